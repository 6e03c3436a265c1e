"""The API benchmarks' baseline: a bare Flask JSON app, served by gunicorn with the services'
settings (rapport.gunicorn_conf, the same workers and threads) behind the same nginx gateway
configuration. It answers under /sessions/ so the gateway routes to it unchanged.

No authentication, validation, database or outbox: what is left is Flask, gunicorn and nginx.
"""

from __future__ import annotations

import uuid

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask("baseline")

    @app.get("/sessions/readyz")
    def ready():
        return jsonify(status="ready")

    @app.get("/sessions/baseline/<item_id>")
    def read(item_id: str):
        return jsonify(id=item_id, status="booked")

    @app.post("/sessions/baseline")
    def create():
        body = request.get_json(force=True)
        return jsonify(id=str(uuid.uuid4()), **body), 201

    return app
