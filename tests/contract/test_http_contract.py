"""Every endpoint CONTRACT.md v1 names is served, and documented in its service's OpenAPI."""

from __future__ import annotations

import pytest

from rapport import services as host

CONTRACT_V1 = {
    "intake": [
        ("post", "/intake/clients"), ("get", "/intake/clients"),
        ("get", "/intake/clients/{client_id}"), ("patch", "/intake/clients/{client_id}"),
        ("post", "/intake/clients/{client_id}/intake-forms"),
        ("get", "/intake/clients/{client_id}/intake-forms/latest"),
        ("post", "/intake/clients/{client_id}/consents"), ("get", "/intake/clients/{client_id}/consents"),
        ("post", "/intake/consents/{consent_id}/withdraw"),
    ],
    "sessions": [
        ("post", "/sessions/therapists"), ("get", "/sessions/therapists"),
        ("post", "/sessions/sessions"), ("get", "/sessions/sessions"),
        ("get", "/sessions/sessions/{session_id}"),
        ("post", "/sessions/sessions/{session_id}/start"),
        ("post", "/sessions/sessions/{session_id}/check-ins"),
        ("post", "/sessions/sessions/{session_id}/stop"),
        ("post", "/sessions/sessions/{session_id}/complete"),
        ("post", "/sessions/sessions/{session_id}/cancel"),
        ("post", "/sessions/clients/{client_id}/clearances"),
    ],
    "followup": [
        ("get", "/followup/followups"), ("get", "/followup/followups/{followup_id}"),
        ("post", "/followup/followups/{followup_id}/responses"),
        ("get", "/followup/clients/{client_id}/progress"),
    ],
    "notify": [
        ("put", "/notify/preferences/{client_id}"), ("get", "/notify/notifications"),
        ("post", "/notify/webhooks"), ("get", "/notify/webhooks"), ("delete", "/notify/webhooks/{webhook_id}"),
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    import os

    os.environ.setdefault("RAPPORT_VAR_DIR", str(tmp_path_factory.mktemp("var")))
    found = {}
    for name in CONTRACT_V1:
        service = host.build(name)
        client = host.create_app(service).test_client()
        found[name] = (client, client.get(f"/{name}/openapi.json").get_json())
        for public in ("healthz", "docs"):
            assert client.get(f"/{name}/{public}").status_code == 200, f"/{name}/{public}"
        service.close()
    return found


@pytest.mark.parametrize("service", sorted(CONTRACT_V1))
def test_every_contract_endpoint_is_in_the_openapi_document(specs, service):
    _, spec = specs[service]
    assert spec["info"]["title"] == f"Rapport {service}"
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    missing = [f"{m.upper()} {p}" for m, p in CONTRACT_V1[service] if (m, p) not in documented]
    assert missing == []


@pytest.mark.parametrize("service", sorted(CONTRACT_V1))
def test_every_contract_endpoint_demands_a_token_and_answers_problem_json(specs, service):
    client, _ = specs[service]
    for method, path in CONTRACT_V1[service]:
        concrete = path.replace("{", "").replace("}", "")
        response = client.open(concrete, method=method.upper(), json={} if method != "get" else None)
        assert response.status_code == 401, f"{method.upper()} {path}"
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "urn:rapport:problem:unauthorized"


def test_every_operation_names_its_roles_and_docs_api_md_shows_them():
    from pathlib import Path

    from rapport.apidoc import operations, role_table

    assert [op for op in operations() if not op[2]] == []
    documented = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    assert role_table() in documented, "docs/api.md is stale: regenerate with python -m rapport.apidoc"
