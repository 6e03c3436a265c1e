"""notify against the real PostgreSQL, a real SMTP server (aiosmtpd) and a real webhook receiver:
what a client finds in their inbox, what staff and staff apps receive, and what nobody ever gets."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
import uuid
from contextlib import contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select, text
from standardwebhooks import Webhook as WebhookVerifier

from notify import dispatch as dispatch_job
from notify.app import create_app
from notify.dispatch import claim, deliver_due
from notify.models import Delivery, Outbox
from shared.consumer import PoisonMessage, dispatch
from shared.events import PRIVATE_EXCHANGE, Event, to_amqp
from tests.conftest import LOCATION, ORG, OTHER_LOCATION, token_for

pytestmark = pytest.mark.integration

HEALTH_WORDS = ("thrombosis", "apixaban", "deep_tissue", "abdomen", "notes", "medication", "condition", "scope")
NIGHTS = {"start": "22:00", "end": "07:00", "timezone": "UTC"}
SOURCES = {"client": "/intake", "consent": "/intake", "session": "/sessions", "followup": "/followup"}
AGGREGATES = {"client": "client_id", "consent": "consent_id", "session": "session_id", "followup": "followup_id"}


# Real servers the tests start -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailRoom:
    """aiosmtpd handler keeping what it was given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.url = ""

    async def handle_DATA(self, _server, _session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


@contextmanager
def smtp_server(**options) -> Iterator[tuple[int, MailRoom]]:
    room = MailRoom()
    port = free_port()
    controller = Controller(room, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, room
    finally:
        controller.stop()


@pytest.fixture
def mail():
    with smtp_server() as (port, room):
        room.url = f"smtp://127.0.0.1:{port}"
        yield room


class Receiver:
    """A staff app's webhook endpoint: records requests, answers with ``status``."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.status = 204
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/rapport"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver():
    hook = Receiver()
    hook.thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


# The service and ways to drive it -----------------------------------------------------------


@pytest.fixture
def notify(build_service, make_database, mail):
    return build_service("notify", database_url=make_database(), smtp_url=mail.url)


@pytest.fixture
def http(notify):
    return create_app(notify).test_client()


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def event(routing_key: str, data: dict, *, org=ORG, location=LOCATION, exchange=None) -> Event:
    return Event(
        routing_key=routing_key,
        source=SOURCES[routing_key.split(".")[0]],
        subject=str(data.get(AGGREGATES[routing_key.split(".")[0]], "unknown")),
        org_id=org,
        location_id=location,
        data=data,
        **({"exchange": exchange} if exchange else {}),
    )


def consume(service, ev: Event):
    message = to_amqp(ev)
    return dispatch(service, message.headers, message.content_type, message.body)


def publish(service, routing_key: str, data: dict, **envelope) -> Event:
    ev = event(routing_key, data, **envelope)
    consume(service, ev)
    return ev


def card(client_id: str, *, version=1, email="ada@example.com", phone=None, channel="email") -> dict:
    return {
        "client_id": client_id,
        "location_id": LOCATION,
        "version": version,
        "first_name": "Ada",
        "email": email,
        "phone": phone,
        "preferred_channel": channel,
        "language": "en",
    }


def send_card(service, client_id: str, **changes) -> None:
    publish(service, "client.contact.v1", card(client_id, **changes), exchange=PRIVATE_EXCHANGE)


def register(service, *, channel="email", with_card=True, **card_changes) -> str:
    client_id = str(uuid.uuid4())
    publish(service, "client.registered.v1", registered(client_id, channel=channel))
    if with_card:
        send_card(service, client_id, channel=channel, **card_changes)
    return client_id


def registered(client_id: str, *, location=LOCATION, channel="email") -> dict:
    return {"client_id": client_id, "location_id": location, "preferred_channel": channel}


def new_id() -> str:
    return str(uuid.uuid4())


def booked(client_id: str, starts_at="2026-12-01T14:00:00+00:00") -> dict:
    return {
        "session_id": str(uuid.uuid4()),
        "client_id": client_id,
        "therapist_id": str(uuid.uuid4()),
        "starts_at": starts_at,
        "duration_minutes": 60,
        "technique": "deep_tissue",
        "areas": ["abdomen"],
    }


def deliveries(service) -> list[Delivery]:
    with service.sessions() as session:
        return list(session.execute(select(Delivery).order_by(Delivery.created_at)).scalars())


def only(service, template: str) -> Delivery:
    [found] = [d for d in deliveries(service) if d.template == template]
    return found


def outbox(service) -> list[tuple[str, dict]]:
    with service.sessions() as session:
        rows = session.execute(select(Outbox).order_by(Outbox.created_at)).scalars().all()
    return [(row.routing_key, json.loads(row.body)) for row in rows]


def notification(routing_key: str, delivery: Delivery) -> tuple[str, dict]:
    """The notification.sent / notification.failed event expected for a delivery."""
    data = {"notification_id": delivery.id, "event_id": delivery.event_id, "template": delivery.template}
    return routing_key, {**data, "channel": delivery.channel}


def put_preference(http, notify, client_id: str, body: dict, role="front_desk", **token):
    return http.put(f"/notify/preferences/{client_id}", json=body, headers=token_for(notify, role, **token))


def put_staff_contact(http, notify, role="manager", **token):
    headers = token_for(notify, role, **token)
    return http.put(f"/notify/locations/{LOCATION}/staff-contact", json={"email": "team@clinic.example"}, headers=headers)


def text_of(message) -> str:
    return message["Subject"] + "\n" + message.get_content()


# Email to clients ---------------------------------------------------------------------------


def test_a_welcome_email_reaches_the_client(http, notify, mail):
    client_id = register(notify)
    assert deliver_due(notify) == 1
    [message] = mail.messages
    assert message["To"] == "ada@example.com" and mail.recipients == [["ada@example.com"]]
    assert message["Subject"] == "Welcome to the clinic, Ada"
    assert "Hello Ada," in message.get_content()
    delivery = only(notify, "welcome")
    assert message["Message-ID"] == f"<{delivery.id}@rapport.local>"
    listed = http.get(f"/notify/notifications?client_id={client_id}", headers=token_for(notify, "front_desk"))
    assert listed.status_code == 200
    [item] = listed.json["items"]
    assert item == {
        **item, "id": delivery.id, "event_id": delivery.event_id, "client_id": client_id, "template": "welcome",
        "channel": "email", "recipient_kind": "client", "status": "sent", "attempts": 1,
    }  # fmt: skip
    assert item["sent_at"] and "ada@example.com" not in json.dumps(listed.json)
    assert outbox(notify) == [notification("notification.sent.v1", delivery)]


def test_every_client_message_is_sent_and_none_carries_health_or_consent_details(notify, mail):
    client_id = register(notify)
    session = booked(client_id)
    ids = {"client_id": client_id, "session_id": session["session_id"], "therapist_id": session["therapist_id"]}
    consent = {"consent_id": new_id(), "client_id": client_id, "version": 1,
               "scope": {"techniques": ["deep_tissue"], "areas": ["abdomen"], "excluded_areas": []},
               "granted_at": "2026-11-27T09:00:00+00:00", "valid_until": None}  # fmt: skip
    publish(notify, "consent.granted.v1", consent)
    publish(notify, "session.booked.v1", session)
    completed_at = "2026-12-01T15:00:00+00:00"
    publish(notify, "session.completed.v1", {**ids, "completed_at": completed_at, "check_in_count": 2})
    publish(notify, "followup.due.v1", {"followup_id": new_id(), **ids})
    cancelled_at = "2026-11-28T10:00:00+00:00"
    publish(notify, "session.cancelled.v1", {**ids, "reason": "client_request", "cancelled_at": cancelled_at})
    withdrawn = {"consent_id": consent["consent_id"], "client_id": client_id, "version": 2}
    publish(notify, "consent.withdrawn.v1", {**withdrawn, "withdrawn_at": "2026-11-29T10:00:00+00:00"})
    assert deliver_due(notify) == 7
    subjects = sorted(m["Subject"] for m in mail.messages)
    assert subjects == sorted([
        "Welcome to the clinic, Ada",
        "Your consent has been recorded",
        "Your session is booked for Tuesday 01 December 2026 at 14:00 (UTC)",
        "Looking after yourself after your session",
        "How are you feeling after your session?",
        "Your session has been cancelled",
        "Your consent has been withdrawn",
    ])  # fmt: skip
    assert all(m["To"] == "ada@example.com" for m in mail.messages)
    everything = "\n".join(text_of(m) for m in mail.messages).lower()
    assert not [word for word in HEALTH_WORDS if word in everything]
    assert session["session_id"] in everything
    assert {d.status for d in deliveries(notify)} == {"sent"}


def test_without_an_smtp_server_emails_are_written_as_eml_files(build_service, make_database):
    notify = build_service("notify", database_url=make_database(), smtp_url=None)
    register(notify)
    sms_client = register(notify, channel="sms", phone="+44 7700 900123")
    assert deliver_due(notify) == 2
    mailbox = notify.settings.var_dir / "mail"
    [eml] = list(mailbox.iterdir())
    welcome = [d for d in deliveries(notify) if d.client_id != sms_client][0]
    assert eml.name == f"{welcome.id}.eml"
    raw = eml.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line endings
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "ada@example.com" and message["Subject"] == "Welcome to the clinic, Ada"
    assert message["Message-ID"] == f"<{welcome.id}@rapport.local>"
    [sms] = list((notify.settings.var_dir / "sms").iterdir())
    assert sms.read_text().startswith("To: +44 7700 900123\n")
    assert only_for(notify, sms_client).channel == "sms"


def only_for(service, client_id: str) -> Delivery:
    [found] = [d for d in deliveries(service) if d.client_id == client_id]
    return found


def test_smtp_credentials_from_the_url_are_used(build_service, make_database):
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(_server, _session, _envelope, mechanism, credentials):
        logins.append((credentials.login, credentials.password))
        return AuthResult(success=credentials.password == b"s3cret/pass")

    options = {"authenticator": authenticate, "auth_require_tls": False}  # loopback only
    with smtp_server(**options) as (port, room):
        url = f"smtp://care%40clinic:s3cret%2Fpass@127.0.0.1:{port}"
        notify = build_service("notify", database_url=make_database(), smtp_url=url)
        register(notify)
        deliver_due(notify)
    assert logins == [(b"care@clinic", b"s3cret/pass")]
    assert [m["To"] for m in room.messages] == ["ada@example.com"]


def test_smtps_sends_over_tls(build_service, make_database, tmp_path, monkeypatch):
    import ssl

    certificate, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    with smtp_server(ssl_context=context) as (port, room):
        notify = build_service("notify", database_url=make_database(), smtp_url=f"smtps://127.0.0.1:{port}")
        register(notify)
        deliver_due(notify)
    assert [m["Subject"] for m in room.messages] == ["Welcome to the clinic, Ada"]


def self_signed_certificate(folder):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(minutes=5)).not_valid_after(now() + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


# Failures and retries -----------------------------------------------------------------------


def test_smtp_down_is_retried_with_back_off_then_failed(build_service, make_database):
    notify = build_service(
        "notify", database_url=make_database(), smtp_url=f"smtp://127.0.0.1:{free_port()}", notify_max_attempts=2
    )
    register(notify)
    start = now()
    assert deliver_due(notify, at=start) == 1
    welcome = only(notify, "welcome")
    assert (welcome.status, welcome.attempts) == ("pending", 1)
    assert welcome.not_before == start + dt.timedelta(seconds=2)
    assert "SMTP" in welcome.last_error
    assert deliver_due(notify, at=start + dt.timedelta(seconds=1)) == 0  # backing off
    assert deliver_due(notify, at=start + dt.timedelta(seconds=3)) == 1
    welcome = only(notify, "welcome")
    assert (welcome.status, welcome.attempts) == ("failed", 2)
    assert outbox(notify) == [notification("notification.failed.v1", welcome)]
    assert deliver_due(notify, at=start + dt.timedelta(hours=1)) == 0


def test_a_contact_card_arriving_after_registration_still_gets_the_welcome_sent(notify, mail):
    client_id = register(notify, with_card=False)
    start = now()
    assert deliver_due(notify, at=start) == 1
    waiting = only(notify, "welcome")
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    assert waiting.not_before == start + dt.timedelta(seconds=2)
    assert mail.messages == []
    send_card(notify, client_id)
    assert deliver_due(notify, at=start + dt.timedelta(seconds=3)) == 1
    assert [m["To"] for m in mail.messages] == ["ada@example.com"]
    assert only(notify, "welcome").status == "sent"


def test_without_contact_details_after_ten_minutes_the_delivery_fails(notify, mail):
    register(notify, with_card=False)
    assert deliver_due(notify, at=now() + dt.timedelta(minutes=11)) == 1
    welcome = only(notify, "welcome")
    assert (welcome.status, welcome.last_error) == ("failed", "no contact details")
    assert [key for key, _ in outbox(notify)] == ["notification.failed.v1"]
    assert mail.messages == []


def test_a_stale_contact_card_is_ignored(notify, mail):
    client_id = register(notify, with_card=False)
    send_card(notify, client_id, version=3, email="ada.new@example.com")
    send_card(notify, client_id, version=2, email="ada.old@example.com")
    send_card(notify, client_id, version=3, email="ada.replayed@example.com")
    deliver_due(notify)
    assert [m["To"] for m in mail.messages] == ["ada.new@example.com"]
    with notify.engine.connect() as connection:
        stored = connection.execute(text("SELECT card FROM contacts")).scalar_one()
    assert "ada.new@example.com" not in stored  # encrypted at rest


def test_a_replayed_event_makes_no_second_delivery(notify, mail):
    client_id = register(notify)
    ev = event("session.booked.v1", booked(client_id))
    first, again = consume(notify, ev), consume(notify, ev)
    assert again.handled == 0 and again.duplicates == first.handled + first.duplicates
    deliver_due(notify)
    assert [d.template for d in deliveries(notify)].count("booking_confirmation") == 1
    assert [m["Subject"].startswith("Your session is booked") for m in mail.messages].count(True) == 1


def test_two_relay_processes_never_claim_the_same_delivery(notify):
    register(notify)
    first, second = claim(notify, now()), claim(notify, now())
    assert len(first) == 1 and second == []
    assert len(claim(notify, now() + dt.timedelta(seconds=61))) == 1  # a dead worker's lease runs out


def test_a_slow_run_hands_back_what_it_did_not_get_to(notify, mail, monkeypatch):
    monkeypatch.setattr(dispatch_job, "TIME_BUDGET", 0.0)
    for _ in range(3):
        register(notify)
    assert deliver_due(notify) == 1
    assert sorted(d.status for d in deliveries(notify)) == ["pending", "pending", "sent"]
    assert len(claim(notify, now())) == 2  # released, not left leased for a minute


# Preferences: opt-out and quiet hours -------------------------------------------------------


def test_an_opted_out_client_gets_nothing(http, notify, mail):
    client_id = register(notify, channel="none")
    publish(notify, "session.booked.v1", booked(client_id))
    assert {d.status for d in deliveries(notify)} == {"suppressed"}
    assert deliver_due(notify) == 0
    assert mail.messages == []
    listed = http.get("/notify/notifications?status=suppressed", headers=token_for(notify, "manager"))
    assert [i["template"] for i in listed.json["items"]] == ["booking_confirmation", "welcome"]


def test_opting_out_before_the_send_suppresses_what_was_pending(http, notify, mail):
    client_id = register(notify)
    assert put_preference(http, notify, client_id, {"channel": "none"}, "client", sub=client_id).status_code == 200
    assert deliver_due(notify) == 1
    assert mail.messages == []
    welcome = only(notify, "welcome")
    assert (welcome.status, welcome.channel) == ("suppressed", "none")
    assert outbox(notify) == []


def test_quiet_hours_defer_a_message_until_they_end(http, notify, mail):
    client_id = register(notify)
    deliver_due(notify)
    mail.messages.clear()
    current = now()
    window = {
        "start": (current - dt.timedelta(hours=1)).strftime("%H:%M"),
        "end": (current + dt.timedelta(hours=1)).strftime("%H:%M"),
        "timezone": "UTC",
    }
    response = http.put(
        f"/notify/preferences/{client_id}", json={"channel": "email", "quiet_hours": window},
        headers=token_for(notify, "front_desk"),
    )  # fmt: skip
    assert response.status_code == 200 and response.json["quiet_hours"] == window
    publish(notify, "session.booked.v1", booked(client_id))
    deferred = only(notify, "booking_confirmation")
    assert current + dt.timedelta(minutes=58) < deferred.not_before <= current + dt.timedelta(hours=1)
    assert deliver_due(notify) == 0
    assert mail.messages == []
    assert deliver_due(notify, at=deferred.not_before + dt.timedelta(seconds=1)) == 1
    [message] = mail.messages
    assert message["Subject"] == "Your session is booked for Tuesday 01 December 2026 at 14:00 (UTC)"
    assert only(notify, "booking_confirmation").status == "sent"


def test_quiet_hours_set_after_recording_are_honoured_at_send_time(http, notify, mail):
    client_id = register(notify)
    current = now()
    in_paris = current.astimezone(ZoneInfo("Europe/Paris"))
    window = {
        "start": (in_paris - dt.timedelta(hours=2)).strftime("%H:%M"),
        "end": (in_paris + dt.timedelta(hours=2)).strftime("%H:%M"),
        "timezone": "Europe/Paris",
    }
    body = {"channel": "email", "quiet_hours": window}
    assert put_preference(http, notify, client_id, body, "client", sub=client_id).status_code == 200
    assert deliver_due(notify) == 1
    welcome = only(notify, "welcome")
    assert (welcome.status, welcome.attempts) == ("pending", 0)
    assert current + dt.timedelta(minutes=119) < welcome.not_before <= current + dt.timedelta(hours=2)
    assert mail.messages == []


def test_a_channel_chosen_in_notify_survives_an_unrelated_card_but_not_a_change_at_intake(http, notify, mail):
    client_id = register(notify, phone="+44 7700 900123")
    put_preference(http, notify, client_id, {"channel": "sms"}, "client", sub=client_id)
    send_card(notify, client_id, version=2, email="ada.new@example.com", phone="+44 7700 900123")
    as_staff = token_for(notify, "front_desk")
    assert http.get(f"/notify/preferences/{client_id}", headers=as_staff).json["channel"] == "sms"
    send_card(notify, client_id, version=3, channel="none", phone="+44 7700 900123")
    assert http.get(f"/notify/preferences/{client_id}", headers=as_staff).json["channel"] == "none"


# Staff alerts -------------------------------------------------------------------------------


def test_an_escalated_followup_alerts_the_locations_staff(http, notify, mail):
    put = put_staff_contact(http, notify)
    assert put.status_code == 200 and put.json["email"] == "team@clinic.example"
    client_id = register(notify)
    always_quiet = {"start": "00:00", "end": "23:59", "timezone": "UTC"}
    # The client's opt-out and quiet hours do not silence staff alerts.
    put_preference(http, notify, client_id, {"channel": "none", "quiet_hours": always_quiet})
    followup_id = new_id()
    reasons = ["adverse_reaction", "severe_soreness"]
    ids = {"followup_id": followup_id, "session_id": new_id(), "client_id": client_id}
    publish(notify, "followup.escalated.v1", {**ids, "reasons": reasons})
    deliver_due(notify)
    [alert] = [m for m in mail.messages if m["To"] == "team@clinic.example"]
    assert alert["Subject"] == f"Follow-up needs attention: {followup_id}"
    assert "adverse_reaction, severe_soreness" in alert.get_content()
    assert "Ada" not in text_of(alert)
    assert only(notify, "staff_escalation_alert").recipient_kind == "staff"
    as_client = http.get("/notify/notifications", headers=token_for(notify, "client", sub=client_id))
    assert "staff_escalation_alert" not in [i["template"] for i in as_client.json["items"]]


def test_staff_are_alerted_when_the_client_stops_a_session_not_the_therapist(http, notify, mail):
    assert put_staff_contact(http, notify, "org_admin", locations=("*",)).status_code == 200
    client_id = register(notify)
    ids = {"session_id": new_id(), "client_id": client_id, "therapist_id": new_id()}
    stop = {**ids, "stopped_at": "2026-12-01T14:20:00+00:00"}
    publish(notify, "session.stopped.v1", {**stop, "requested_by": "therapist"})
    assert "staff_client_stopped_alert" not in [d.template for d in deliveries(notify)]
    publish(notify, "session.stopped.v1", {**stop, "requested_by": "client"})
    deliver_due(notify)
    [alert] = [m for m in mail.messages if m["To"] == "team@clinic.example"]
    assert alert["Subject"] == f"A client stopped their session: {stop['session_id']}"


# Webhooks -----------------------------------------------------------------------------------


def subscribe(http, notify, url: str, patterns=("session.*.v1",), **extra) -> dict:
    response = http.post(
        "/notify/webhooks", json={"url": url, "event_types": list(patterns), "location_id": LOCATION, **extra},
        headers=token_for(notify, "manager"),
    )  # fmt: skip
    assert response.status_code == 201, response.json
    return response.json


def test_webhooks_receive_matching_events_signed_per_standard_webhooks(http, notify, receiver):
    hook = subscribe(http, notify, receiver.url, description="front desk app")
    assert hook["secret"].startswith("whsec_")
    client_id = register(notify)
    ev = publish(notify, "session.booked.v1", booked(client_id))
    publish(notify, "followup.due.v1", {"followup_id": new_id(), "session_id": new_id(), "client_id": client_id})
    deliver_due(notify)
    [(headers, body)] = receiver.requests
    payload = WebhookVerifier(hook["secret"]).verify(body, headers)
    assert payload["type"] == "rapport.session.booked.v1" and payload["id"] == ev.id
    assert payload["subject"] == ev.subject and payload["data"]["client_id"] == client_id
    assert "Ada" not in body.decode() and "example.com" not in body.decode()
    webhook_delivery = [d for d in deliveries(notify) if d.channel == "webhook"][0]
    assert headers["webhook-id"] == webhook_delivery.id
    assert (webhook_delivery.status, webhook_delivery.template) == ("sent", "session.booked.v1")
    listed = http.get("/notify/webhooks", headers=token_for(notify, "manager")).json["items"]
    assert [(h["id"], h["url"]) for h in listed] == [(hook["id"], receiver.url)]
    assert "secret" not in listed[0]


def test_a_failing_webhook_is_retried_and_a_deleted_one_gets_nothing(http, notify, receiver):
    hook = subscribe(http, notify, receiver.url)
    receiver.status = 500
    publish(notify, "session.booked.v1", booked(register(notify)))
    start = now()
    deliver_due(notify, at=start)
    failed_once = [d for d in deliveries(notify) if d.channel == "webhook"][0]
    assert (failed_once.status, failed_once.attempts, failed_once.last_error) == ("pending", 1, "webhook answered 500")
    deleted = http.delete(f"/notify/webhooks/{hook['id']}", headers=token_for(notify, "manager"))
    assert deleted.status_code == 204
    receiver.status = 204
    deliver_due(notify, at=start + dt.timedelta(seconds=3))
    assert len(receiver.requests) == 1
    assert [d for d in deliveries(notify) if d.channel == "webhook"][0].status == "suppressed"
    assert http.delete(f"/notify/webhooks/{hook['id']}", headers=token_for(notify, "manager")).status_code == 404


def test_webhook_subscriptions_are_validated_and_idempotent(http, notify, receiver):
    manager = token_for(notify, "manager")
    bad = [
        ({"url": "ftp://example.com/x", "event_types": ["#"], "location_id": LOCATION}, "url"),
        ({"url": receiver.url, "event_types": ["session..v1"], "location_id": LOCATION}, "event_types"),
        ({"url": receiver.url, "event_types": ["notification.#"], "location_id": LOCATION}, "event_types"),
        ({"url": receiver.url, "event_types": [], "location_id": LOCATION}, "event_types"),
        ({"url": receiver.url, "event_types": ["#"], "location_id": LOCATION, "secret": "mine"}, "secret"),
        ({"url": receiver.url, "event_types": ["#"]}, "location_id"),
    ]
    for body, field in bad:
        response = http.post("/notify/webhooks", json=body, headers=manager)
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json" and field in response.json["errors"]
    body = {"url": receiver.url, "event_types": ["#"], "location_id": LOCATION}
    front_desk = http.post("/notify/webhooks", json=body, headers=token_for(notify, "front_desk"))
    assert front_desk.status_code == 403
    elsewhere = http.post("/notify/webhooks", json={**body, "location_id": OTHER_LOCATION}, headers=manager)
    assert elsewhere.status_code == 403
    keyed = {**manager, "Idempotency-Key": "hook-1"}
    first = http.post("/notify/webhooks", json=body, headers=keyed)
    second = http.post("/notify/webhooks", json=body, headers=keyed)
    assert second.status_code == 201 and second.json == first.json
    assert len(http.get("/notify/webhooks", headers=manager).json["items"]) == 1


def test_an_organisation_wide_webhook_hears_every_location(http, notify, receiver):
    admin = token_for(notify, "org_admin", locations=("*",))
    body = {"url": receiver.url, "event_types": ["client.registered.v1"]}
    response = http.post("/notify/webhooks", json=body, headers=admin)
    assert response.status_code == 201 and response.json["location_id"] is None
    publish(notify, "client.registered.v1", registered(new_id(), location=OTHER_LOCATION), location=OTHER_LOCATION)
    publish(notify, "client.registered.v1", registered(new_id()), org="another-org")
    deliver_due(notify)
    assert len(receiver.requests) == 1
    manager = token_for(notify, "manager")  # an organisation-wide webhook is not a location's
    assert http.get(f"/notify/webhooks/{response.json['id']}", headers=manager).status_code == 404


# Scope, roles and validation ----------------------------------------------------------------


def test_another_location_or_organisation_sees_404(http, notify, receiver):
    client_id = register(notify)
    hook = subscribe(http, notify, receiver.url)
    elsewhere = token_for(notify, "manager", locations=(OTHER_LOCATION,))
    other_org = token_for(notify, "manager", org="another-org")
    another_client = token_for(notify, "client", sub=str(uuid.uuid4()))
    for headers in (elsewhere, other_org, another_client):
        response = http.put(f"/notify/preferences/{client_id}", json={"channel": "sms"}, headers=headers)
        assert response.status_code == 404 and response.json["type"] == "urn:rapport:problem:not-found"
    for headers in (elsewhere, other_org):
        assert http.get(f"/notify/webhooks/{hook['id']}", headers=headers).status_code == 404
        assert http.delete(f"/notify/webhooks/{hook['id']}", headers=headers).status_code == 404
        assert http.get(f"/notify/notifications?client_id={client_id}", headers=headers).json["items"] == []
    assert put_staff_contact(http, notify, locations=(OTHER_LOCATION,)).status_code == 404
    staff_contact = f"/notify/locations/{LOCATION}/staff-contact"
    assert http.get(staff_contact, headers=token_for(notify, "manager")).status_code == 404  # none set yet
    assert put_preference(http, notify, new_id(), {"channel": "sms"}, "manager").status_code == 404


def test_a_client_sees_only_their_own_notifications(http, notify):
    ada, bob = register(notify), register(notify)
    for client_id in (ada, ada, bob):
        publish(notify, "session.booked.v1", booked(client_id))
    as_ada = token_for(notify, "client", sub=ada)
    page = http.get("/notify/notifications?limit=2", headers=as_ada).json
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = http.get(f"/notify/notifications?limit=2&cursor={page['next_cursor']}", headers=as_ada).json
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {i["client_id"] for i in page["items"] + rest["items"]} == {ada}
    assert http.get(f"/notify/notifications?client_id={bob}", headers=as_ada).json["items"] == []
    assert put_preference(http, notify, ada, {"channel": "sms"}, "therapist").status_code == 403


@pytest.mark.parametrize(
    "body, field",
    [
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "email", "quiet_hours": {**NIGHTS, "end": "7:00"}}, "quiet_hours"),
        ({"channel": "email", "quiet_hours": {**NIGHTS, "timezone": "Mars/Base"}}, "quiet_hours"),
        ({"channel": "email", "quiet_hours": {**NIGHTS, "end": "22:00"}}, "quiet_hours"),
        ({"channel": "email", "quiet_hours": {"start": "22:00", "end": "07:00"}}, "quiet_hours"),
        ({"channel": "email", "volume": 11}, "volume"),
        ({}, "channel"),
    ],
)
def test_bad_preferences_are_a_problem_and_change_nothing(http, notify, body, field):
    client_id = register(notify)
    response = http.put(f"/notify/preferences/{client_id}", json=body, headers=token_for(notify, "front_desk"))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"]
    unchanged = http.get(f"/notify/preferences/{client_id}", headers=token_for(notify, "front_desk"))
    assert unchanged.json == {**unchanged.json, "channel": "email", "quiet_hours": None}


def test_bad_list_filters_are_a_problem(http, notify):
    manager = token_for(notify, "manager")
    assert http.get("/notify/notifications?status=lost", headers=manager).status_code == 422
    assert http.get("/notify/notifications?cursor=nonsense", headers=manager).status_code == 422
    assert http.get("/notify/notifications?colour=red", headers=manager).status_code == 422
    assert http.get(f"/notify/notifications?location_id={OTHER_LOCATION}", headers=manager).status_code == 403
    assert http.get("/notify/notifications").status_code == 401


# Events that can never be handled -----------------------------------------------------------


def test_a_schema_invalid_event_is_poison_and_writes_nothing(notify):
    client_id = register(notify, with_card=False)
    before = len(deliveries(notify))
    invalid = booked(client_id)
    del invalid["starts_at"]
    with pytest.raises(PoisonMessage, match="starts_at"):
        consume(notify, event("session.booked.v1", invalid))
    with pytest.raises(PoisonMessage):
        ids = {"followup_id": new_id(), "session_id": new_id(), "client_id": client_id}
        consume(notify, event("followup.escalated.v1", {**ids, "reasons": "adverse_reaction"}))
    with pytest.raises(PoisonMessage, match="location"):
        consume(notify, event("session.booked.v1", booked(client_id), location=""))
    with pytest.raises(PoisonMessage):
        bad_card = {**card(client_id), "version": "two"}
        consume(notify, event("client.contact.v1", bad_card, exchange=PRIVATE_EXCHANGE))
    assert len(deliveries(notify)) == before
    with notify.sessions() as session:
        assert session.execute(text("SELECT count(*) FROM contacts")).scalar() == 0
