"""gunicorn settings for every service's web workers (`rapport serve <svc> web`).

gunicorn's own logs go through Rapport's logging (RAPPORT_LOG_FORMAT=json gives JSON lines like
every other process), and each worker builds its app — database engines, nothing else — after
the fork.
"""

import logging

from shared.logs import configure_logging

preload_app = False
worker_class = "gthread"
graceful_timeout = 10
timeout = 30
accesslog = "-"
errorlog = "-"


def _route_gunicorn_logs() -> None:
    configure_logging()
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


def when_ready(server) -> None:
    _route_gunicorn_logs()


def post_worker_init(worker) -> None:
    _route_gunicorn_logs()
