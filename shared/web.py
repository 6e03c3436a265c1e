"""The HTTP side every service shares: app factory, auth, one unit of work per request,
idempotency keys, problem+json errors, health and readiness, OpenAPI documents.

A request's unit of work commits once, after the view returned a 2xx answer, together with the
request's idempotency record; any other answer rolls everything back, so bad input changes
nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from typing import Callable, Iterable, Mapping

import marshmallow as ma
from flask import Flask, Response, current_app, g, request
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from shared import auth
from shared.broker import broker_reachable
from shared.errors import Forbidden, NotFound
from shared.events import correlation_id
from shared.idempotency import fingerprint_of, stored_response
from shared.problems import Problem, forbidden, from_status, not_found
from shared.service import Service, UnitOfWork

log = logging.getLogger("rapport.web")

MAX_BODY_BYTES = 1024 * 1024
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PUBLIC_ENDPOINTS = {"health.healthz", "health.readyz"}


class ProblemSchema(ma.Schema):
    type = ma.fields.String(metadata={"example": "urn:rapport:problem:validation"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "field -> messages, for validation errors"})


class StrictParser(FlaskParser):
    """Unknown query-string parameters are errors too, not silently ignored."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }


class Blueprint(SmorestBlueprint):
    """A service's blueprint: flask-smorest, with strict argument parsing."""

    ARGUMENTS_PARSER = StrictParser()


class RapportApi(Api):
    """flask-smorest, answering every HTTP error as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if isinstance(errors, dict) and len(errors) == 1:
            (location, inner), = errors.items()
            if location in ("json", "query", "querystring", "view_args") and isinstance(inner, dict):
                errors = inner
        detail = data.get("message") or error.description
        if error.code == 400 and errors == {"json": ["Invalid JSON body."]}:
            detail = "The body is not valid JSON."
        if error.code == 422:
            detail = "The request is not valid; see errors."
        if error.code == 413:
            detail = f"The request body is larger than {MAX_BODY_BYTES} bytes."
        problem = from_status(error.code or 500, detail, errors if isinstance(errors, dict) else None)
        response = problem.response()
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response


def service() -> Service:
    return current_app.extensions["rapport.service"]


def principal() -> auth.Principal:
    return g.principal


def allow(*roles: str):
    """Only these roles may call the view; checked before the body is parsed, and published in
    the OpenAPI document as the operation's ``x-roles``."""

    def decorate(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            who = principal()
            if who.role not in roles:
                raise forbidden(f"The {who.role} role may not do this.")
            return view(*args, **kwargs)

        apidoc = dict(getattr(view, "_apidoc", {}))
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "x-roles": list(roles)}
        checked._apidoc = apidoc
        return checked

    return decorate


def unit_of_work() -> UnitOfWork:
    """The request's unit of work; committed by the app after a 2xx answer."""
    if "uow" not in g:
        g.uow = UnitOfWork(service().sessions(), service())
    return g.uow


def create_service_app(
    svc: Service,
    blueprints: Iterable[SmorestBlueprint],
    description: str,
    problems: Mapping[type[Exception], Callable[[Exception], Problem]],
) -> Flask:
    app = Flask(f"rapport.{svc.name}")
    app.config.update(
        API_TITLE=f"Rapport {svc.name}",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=f"/{svc.name}",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
            "security": [{"bearer": []}],
        },
    )
    app.extensions["rapport.service"] = svc
    api = RapportApi(app)
    for blp in blueprints:
        api.register_blueprint(blp, url_prefix=f"/{svc.name}{blp.url_prefix or ''}")
    app.register_blueprint(_health_blueprint(svc), url_prefix=f"/{svc.name}")
    _install_hooks(app, svc)
    _install_problem_table(app, problems)
    return app


def _install_problem_table(
    app: Flask, problems: Mapping[type[Exception], Callable[[Exception], Problem]]
) -> None:
    """Domain errors become problem+json answers, from the service's one table."""
    table: dict[type[Exception], Callable[[Exception], Problem]] = {
        NotFound: lambda e: not_found(e.what),
        Forbidden: lambda e: forbidden(str(e)),
        **problems,
    }
    for error_type, to_problem in table.items():
        app.register_error_handler(
            error_type, lambda error, to_problem=to_problem: to_problem(error).response()
        )


def _health_blueprint(svc: Service):
    from flask import Blueprint as FlaskBlueprint

    blp = FlaskBlueprint("health", __name__)
    ready_cache: dict[str, float] = {}

    @blp.get("/healthz")
    def healthz():
        return {"status": "ok", "service": svc.name}

    @blp.get("/readyz")
    def readyz():
        checks = {"database": "ok", "broker": "ok"}
        try:
            with svc.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        if time.monotonic() - ready_cache.get("broker_ok_at", -1e9) > 5:
            if broker_reachable(svc.settings):
                ready_cache["broker_ok_at"] = time.monotonic()
            else:
                checks["broker"] = "unreachable"
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "service": svc.name, "checks": checks}
        problem = from_status(503, "Not ready: " + json.dumps(checks))
        response = problem.response()
        response.headers["Retry-After"] = "5"
        return response

    return blp


def _install_hooks(app: Flask, svc: Service) -> None:
    idempotency_model = svc.idempotency_model

    @app.before_request
    def _correlate():
        supplied = request.headers.get("X-Correlation-ID", "")
        g.correlation_id = supplied if _CORRELATION.match(supplied) else str(uuid.uuid4())
        g.correlation_token = correlation_id.set(g.correlation_id)

    @app.before_request
    def _authenticate():
        if request.endpoint in _PUBLIC_ENDPOINTS or (request.endpoint or "").startswith("api-docs."):
            return None
        if request.endpoint is None:
            return None  # 404/405 answered by Flask
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise auth.unauthorized("A bearer token is required.")
        g.principal = auth.decode(token.strip(), svc.settings.jwt_secret)
        return None

    @app.before_request
    def _check_body():
        if request.method in ("POST", "PUT", "PATCH") and request.content_length:
            if request.content_length > MAX_BODY_BYTES:
                raise from_status(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
            if not request.is_json:
                raise from_status(415, "Send the body as application/json.")
        return None

    @app.before_request
    def _replay_idempotent():
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or key is None or "principal" not in g:
            return None
        if not 1 <= len(key) <= 255:
            raise from_status(422, "Idempotency-Key must be 1 to 255 characters.")
        g.idempotency = (key, fingerprint_of(request, g.principal))
        with svc.sessions() as session:
            found = session.execute(
                select(idempotency_model).where(
                    idempotency_model.org_id == g.principal.org, idempotency_model.key == key
                )
            ).scalar_one_or_none()
        if found is None:
            return None
        if found.fingerprint != g.idempotency[1]:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency key reused",
                "This Idempotency-Key was used for a different request.",
            )
        return stored_response(found)

    @app.after_request
    def _finish_unit_of_work(response: Response) -> Response:
        uow: UnitOfWork | None = g.pop("uow", None)
        if uow is None:
            return response
        try:
            if response.status_code >= 400:
                uow.session.rollback()
                return response
            if "idempotency" in g:
                key, fingerprint = g.idempotency
                uow.session.add(idempotency_model.from_response(g.principal, key, fingerprint, response))
            uow.commit()
            return response
        except IntegrityError:
            uow.session.rollback()
            replay = _concurrent_replay()
            if replay is not None:
                return replay
            return Problem(409, "conflict", "Conflict", "The change conflicts with another one; retry.").response()
        except (OperationalError, DBAPIError):
            uow.session.rollback()
            log.exception("database unavailable at commit")
            return _database_unavailable().response()
        finally:
            uow.session.close()

    def _concurrent_replay() -> Response | None:
        if "idempotency" not in g:
            return None
        key, fingerprint = g.idempotency
        with svc.sessions() as session:
            found = session.execute(
                select(idempotency_model).where(
                    idempotency_model.org_id == g.principal.org, idempotency_model.key == key
                )
            ).scalar_one_or_none()
        if found is not None and found.fingerprint == fingerprint:
            return stored_response(found)
        return None

    @app.after_request
    def _echo_correlation(response: Response) -> Response:
        if "correlation_id" in g:
            response.headers["X-Correlation-ID"] = g.correlation_id
        return response

    @app.teardown_request
    def _teardown(_error):
        uow = g.pop("uow", None)
        if uow is not None:
            uow.session.close()
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation_id.reset(token)

    @app.errorhandler(Problem)
    def _problem(problem: Problem):
        return problem.response()

    def _database_down(error):
        log.warning("database unavailable: %s", error)
        return _database_unavailable().response()

    # A lost or refused connection, one the driver found closed, or no pooled connection free
    # within the pool timeout (a database too slow to answer): the request is not at fault.
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(unavailable, _database_down)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].handle_http_exception(error)
        log.exception("unhandled error")
        return from_status(500, "Something went wrong on our side; it has been logged.").response()


def _database_unavailable() -> Problem:
    return Problem(
        503,
        "database-unavailable",
        "Service unavailable",
        "The database is not reachable; retry shortly.",
        headers={"Retry-After": "2"},
    )

