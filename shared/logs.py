"""Logging: one line per record, JSON when RAPPORT_LOG_FORMAT=json, keyed by correlation id."""

from __future__ import annotations

import logging
import os

import structlog

from shared.events import correlation_id


def _add_correlation_id(_logger, _name, event_dict: dict) -> dict:
    current = correlation_id.get()
    if current:
        event_dict.setdefault("correlation_id", current)
    return event_dict


def _add_process_name(_logger, _name, event_dict: dict) -> dict:
    process = os.environ.get("RAPPORT_PROCESS")
    if process:
        event_dict.setdefault("process", process)
    return event_dict


def configure_logging() -> None:
    """Root logging for a Rapport process; ``RAPPORT_PROCESS`` (e.g. ``sessions-consumer``),
    set by ``rapport serve``, names the process on every line."""
    level = os.environ.get("RAPPORT_LOG_LEVEL", "INFO").upper()
    as_json = os.environ.get("RAPPORT_LOG_FORMAT", "text") == "json"
    renderer = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=renderer,
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_process_name,
            _add_correlation_id,
            structlog.stdlib.ExtraAdder(),
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.getLogger("amqp").setLevel("WARNING")
    logging.getLogger("kombu").setLevel("WARNING")
    logging.getLogger("alembic").setLevel("WARNING")
