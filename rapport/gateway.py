"""The embedded mode's gateway: routes ``/<service>/...`` to that service's app, in-process.

It does what the nginx gateway of the other modes does (see gateway/rapport.conf.template):
routing by prefix, a 1 MiB body limit, problem+json for unknown paths.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, Mapping

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
MAX_BODY_BYTES = 1024 * 1024


def _problem(start_response, status: int, slug: str, title: str, detail: str) -> list[bytes]:
    body = json.dumps(
        {"type": f"urn:rapport:problem:{slug}", "title": title, "status": status, "detail": detail}
    ).encode()
    start_response(
        f"{status} {title}",
        [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class Gateway:
    def __init__(self, apps: Mapping[str, WSGIApp]) -> None:
        self.apps = dict(apps)

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            body = b'{"status":"ok","service":"gateway"}'
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        prefix = path.split("/", 2)[1] if path.startswith("/") and path.count("/") >= 1 else ""
        app = self.apps.get(prefix)
        if app is None:
            return _problem(start_response, 404, "not-found", "Not found", "No service serves this path.")
        length = environ.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _problem(
                start_response, 413, "body-too-large", "Request body too large",
                f"The request body is larger than {MAX_BODY_BYTES} bytes.",
            )  # fmt: skip
        return app(environ, start_response)
