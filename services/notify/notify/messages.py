"""Message templates: ``templates/<name>.txt``, a ``Subject: ...`` line, a blank line, the body.

Rendered with ``string.Template`` from the context ``domain.render_context`` builds (a first
name and ids, codes and times); a placeholder without a value is an error, never a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Mapping


class TemplateError(Exception):
    """A template that is missing, malformed or names a value the context does not have."""


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


@cache
def load(name: str) -> tuple[Template, Template]:
    text = resources.files("notify").joinpath("templates", f"{name}.txt").read_text("utf-8")
    head, blank, body = text.partition("\n\n")
    if not head.startswith("Subject: ") or "\n" in head or not blank:
        raise TemplateError(f"template {name} must start with 'Subject: ...' and a blank line")
    return Template(head[len("Subject: ") :]), Template(body)


def render(name: str, context: Mapping[str, str]) -> Message:
    try:
        subject, body = load(name)
        return Message(subject=subject.substitute(context).strip(), body=body.substitute(context))
    except (OSError, KeyError, ValueError) as error:
        raise TemplateError(f"cannot render template {name}: {type(error).__name__} {error}") from error
