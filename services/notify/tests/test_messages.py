"""The message templates shipped with notify, and the pure parts of its transports."""

import base64
import time
from importlib import resources

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from notify import domain, messages, transports
from shared.config import ConfigError, Settings

HEALTH_WORDS = ("condition", "medication", "allerg", "pregnan", "injur", "thrombosis", "contraindication", "notes", "diagnos")


def sample_payload(template: str) -> dict:
    values = {
        "starts_at": "2026-12-01T14:00:00+00:00",
        "granted_at": "2026-11-27T09:00:00+00:00",
        "withdrawn_at": "2026-11-28T09:00:00+00:00",
        "cancelled_at": "2026-11-28T09:00:00+00:00",
        "stopped_at": "2026-11-28T09:00:00+00:00",
        "valid_until": "2027-11-27",
        "duration_minutes": 60,
        "reasons": ["adverse_reaction"],
    }
    return {name: values.get(name, f"{name}-1") for name in domain.TEMPLATES[template].fields}


def test_every_template_has_a_file_and_every_file_a_template():
    files = {p.name[:-4] for p in resources.files("notify").joinpath("templates").iterdir() if p.name.endswith(".txt")}
    assert files == set(domain.TEMPLATES)


@pytest.mark.parametrize("template", sorted(domain.TEMPLATES))
def test_every_template_renders_without_health_details(template):
    context = domain.render_context(template, sample_payload(template), "Ada", "Europe/London")
    message = messages.render(template, context)
    assert message.subject and "\n" not in message.subject
    assert "$" not in message.subject + message.body
    text = (message.subject + message.body).lower()
    assert not [word for word in HEALTH_WORDS if word in text]


def test_a_template_naming_a_missing_value_is_an_error():
    with pytest.raises(messages.TemplateError):
        messages.render("booking_confirmation", {"first_name": "Ada"})


def test_smtp_urls():
    plain = transports.parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.username, plain.implicit_tls) == ("mail.example.com", 25, None, False)
    secure = transports.parse_smtp_url("smtps://care%40clinic:p%2Fss@mail.example.com:2465")
    assert (secure.port, secure.username, secure.password, secure.implicit_tls) == (2465, "care@clinic", "p/ss", True)
    assert transports.parse_smtp_url("smtps://mail.example.com").port == 465
    for bad in ("http://mail.example.com", "smtp://", "smtp://mail.example.com:port"):
        with pytest.raises(ConfigError):
            transports.parse_smtp_url(bad)


def test_the_message_id_is_the_delivery_id(tmp_path):
    settings = Settings(
        service="notify", database_url="sqlite://", broker_url="memory://", jwt_secret="s",
        data_key="k", var_dir=tmp_path, mail_from="Clinic <care@clinic.example>",
    )  # fmt: skip
    email = transports.email_message(settings, "d-1", "ada@example.com", messages.Message("Hi", "Hello"))
    assert email["Message-ID"] == "<d-1@clinic.example>"
    assert email["To"] == "ada@example.com" and email["From"] == "Clinic <care@clinic.example>"


def test_signatures_follow_the_standard_webhooks_spec():
    secret = transports.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[len("whsec_"):])) == 24
    body = b'{"type":"rapport.session.booked.v1"}'
    timestamp = str(int(time.time()))
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": timestamp,
        "webhook-signature": transports.sign(secret, "msg_1", timestamp, body),
    }
    assert Webhook(secret).verify(body, headers) == {"type": "rapport.session.booked.v1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"booked", b"cancelled"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(transports.new_secret()).verify(body, headers)
