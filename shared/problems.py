"""RFC 9457 problem details: the one shape every error takes."""

from __future__ import annotations

from typing import Any

from flask import Response, json

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answered as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:rapport:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return {**self.extensions, **body}

    def response(self) -> Response:
        response = Response(json.dumps(self.to_dict()), status=self.status, mimetype=PROBLEM_JSON)
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not-found", "Not found", f"No such {what} in your scope.")


def forbidden(detail: str = "Your role may not do this.") -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def conflict(slug: str, detail: str, **extensions: Any) -> Problem:
    """A 409; RFC 9457 extension members (e.g. ``holds``) let clients act without parsing text."""
    return Problem(409, slug, slug.replace("-", " ").capitalize(), detail, extensions=extensions)


def validation(errors: dict[str, Any], detail: str = "The request is not valid.") -> Problem:
    return Problem(422, "validation", "Validation failed", detail, errors=errors)


HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Validation failed"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


def from_status(status: int, detail: str | None = None, errors: dict | None = None) -> Problem:
    slug, title = HTTP_SLUGS.get(status, ("error", "Error"))
    return Problem(status, slug, title, detail, errors=errors)
