"""Checks an event against docs/asyncapi.yaml: the document staff-app developers build on."""

from __future__ import annotations

from pathlib import Path

import yaml

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def load() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def problems(document: dict, routing_key: str, headers: dict, data: dict) -> list[str]:
    messages = document["components"]["messages"]
    if routing_key not in messages or routing_key not in document["channels"]:
        return [f"{routing_key} is not documented"]
    payload = messages[routing_key]["payload"]
    found = []
    missing = set(payload["required"]) - set(data)
    extra = set(data) - set(payload["properties"])
    if missing:
        found.append(f"{routing_key} lacks {sorted(missing)}")
    if extra:
        found.append(f"{routing_key} carries undocumented {sorted(extra)}")
    trait = document["components"]["messageTraits"]["cloudevent"]["headers"]
    absent = set(trait["required"]) - set(headers)
    if absent:
        found.append(f"{routing_key} lacks headers {sorted(absent)}")
    return found
