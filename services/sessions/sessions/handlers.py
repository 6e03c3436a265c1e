"""sessions' event entrypoints. Each runs in the dispatcher's unit of work together with its
inbox row, so a redelivered event changes nothing.

Events may arrive out of order: a projection changes only for a higher aggregate version, so a
withdrawal seen before its grant wins, and a stale grant is ignored.
"""

from __future__ import annotations

from sessions import domain, operations
from sessions.models import ClientHolds, Consent
from shared.clock import now
from shared.consumer import PoisonMessage
from shared.events import Event
from shared.service import UnitOfWork


def _tenancy(event: Event) -> tuple[str, str]:
    if not event.org_id or not event.location_id:
        raise PoisonMessage(f"{event.routing_key} {event.id} names no organisation or location")
    return event.org_id, event.location_id


def _locked_consent(uow: UnitOfWork, consent_id: str) -> Consent | None:
    return uow.session.get(Consent, consent_id, with_for_update=True)


def record_consent_granted(uow: UnitOfWork, event: Event, data: dict) -> None:
    org_id, location_id = _tenancy(event)
    consent = _locked_consent(uow, data["consent_id"])
    if consent is not None and not domain.is_newer(data["version"], consent.version):
        return
    if consent is None:
        consent = Consent(consent_id=data["consent_id"])
        uow.session.add(consent)
    scope = data["scope"]
    consent.org_id = org_id
    consent.location_id = location_id
    consent.client_id = data["client_id"]
    consent.status = "active"
    consent.version = data["version"]
    consent.techniques = sorted(set(scope["techniques"]))
    consent.areas = sorted(set(scope["areas"]))
    consent.excluded_areas = sorted(set(scope["excluded_areas"]))
    consent.valid_until = data["valid_until"]
    consent.updated_at = now()


def record_consent_withdrawal(uow: UnitOfWork, event: Event, data: dict) -> None:
    """Withdrawal takes effect at once: uncovered sessions are cancelled or stopped."""
    org_id, location_id = _tenancy(event)
    consent = _locked_consent(uow, data["consent_id"])
    if consent is None:
        uow.session.add(
            Consent(
                consent_id=data["consent_id"],
                org_id=org_id,
                location_id=location_id,
                client_id=data["client_id"],
                status="withdrawn",
                version=data["version"],
                techniques=[],
                areas=[],
                excluded_areas=[],
                valid_until=None,
                updated_at=now(),
            )
        )
    elif domain.is_newer(data["version"], consent.version):
        consent.status = "withdrawn"
        consent.version = data["version"]
        consent.updated_at = now()
    uow.session.flush()
    operations.release_uncovered_sessions(uow, org_id, data["client_id"])


def record_holds(uow: UnitOfWork, event: Event, data: dict) -> None:
    """The holds of the client's latest intake form replace the earlier form's."""
    org_id, location_id = _tenancy(event)
    holds = uow.session.get(ClientHolds, data["client_id"], with_for_update=True)
    if holds is not None and not domain.is_newer(data["version"], holds.form_version):
        return
    if holds is None:
        holds = ClientHolds(client_id=data["client_id"])
        uow.session.add(holds)
    holds.org_id = org_id
    holds.location_id = location_id
    holds.form_version = data["version"]
    holds.holds = list(dict.fromkeys(data["holds"]))
