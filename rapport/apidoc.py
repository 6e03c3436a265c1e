"""Who may call what: the role table in docs/api.md, generated from the services' OpenAPI
documents (each operation's ``x-roles``).

    python -m rapport.apidoc > /tmp/roles.md
"""

from __future__ import annotations

import os
import tempfile

from rapport import services as host
from shared.auth import ROLES
from shared.config import SERVICES

SHORT = {"org_admin": "admin", "manager": "mgr", "front_desk": "desk", "therapist": "ther", "client": "client"}


def operations() -> list[tuple[str, str, list[str], str]]:
    os.environ.setdefault("RAPPORT_VAR_DIR", tempfile.mkdtemp())
    found = []
    for name in SERVICES:
        service = host.build(name)
        spec = host.create_app(service).test_client().get(f"/{name}/openapi.json").get_json()
        service.close()
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    summary = (operation.get("summary") or "").rstrip(".")
                    found.append((method.upper(), path, operation.get("x-roles", []), summary))
    return found


def role_table() -> str:
    lines = [
        "| method | path | " + " | ".join(SHORT[r] for r in ROLES) + " |",
        "|---|---|" + "---|" * len(ROLES),
    ]
    for method, path, roles, _summary in operations():
        marks = " | ".join("✓" if role in roles else "" for role in ROLES)
        lines.append(f"| {method} | `{path}` | {marks} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(role_table(), end="")
