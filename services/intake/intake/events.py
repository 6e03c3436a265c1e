"""The public events intake emits. Data carries ids, codes and statuses only."""

from __future__ import annotations

from intake.contact_card import card
from intake.models import Client, Consent, IntakeForm
from shared.events import PRIVATE_EXCHANGE
from shared.service import UnitOfWork


def client_registered(uow: UnitOfWork, client: Client) -> None:
    uow.emit(
        "client.registered.v1",
        subject=client.id,
        org_id=client.org_id,
        location_id=client.location_id,
        data={
            "client_id": client.id,
            "location_id": client.location_id,
            "preferred_channel": client.preferred_channel,
        },
    )


def intake_submitted(uow: UnitOfWork, form: IntakeForm) -> None:
    uow.emit(
        "intake.submitted.v1",
        subject=form.client_id,
        org_id=form.org_id,
        location_id=form.location_id,
        data={
            "client_id": form.client_id,
            "form_id": form.id,
            "version": form.version,
            "contraindications": list(form.contraindications),
            "holds": list(form.holds),
        },
    )


def consent_granted(uow: UnitOfWork, consent: Consent) -> None:
    uow.emit(
        "consent.granted.v1",
        subject=consent.id,
        org_id=consent.org_id,
        location_id=consent.location_id,
        data={
            "consent_id": consent.id,
            "client_id": consent.client_id,
            "version": consent.version,
            "scope": {
                "techniques": list(consent.techniques),
                "areas": list(consent.areas),
                "excluded_areas": list(consent.excluded_areas),
            },
            "granted_at": consent.granted_at.isoformat(),
            "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
        },
    )


def consent_withdrawn(uow: UnitOfWork, consent: Consent) -> None:
    uow.emit(
        "consent.withdrawn.v1",
        subject=consent.id,
        org_id=consent.org_id,
        location_id=consent.location_id,
        data={
            "consent_id": consent.id,
            "client_id": consent.client_id,
            "version": consent.version,
            "withdrawn_at": consent.withdrawn_at.isoformat(),
        },
    )


def contact_card(uow: UnitOfWork, client: Client) -> None:
    """The client's contact details, for notify alone.

    Contact details never go on the public exchange: this message goes to ``rapport.private``
    (a direct exchange only notify binds to), so that notify can address the client without
    calling intake. See docs/events.md, "Private messages".
    """
    uow.emit(
        "client.contact.v1",
        subject=client.id,
        org_id=client.org_id,
        location_id=client.location_id,
        data=card(client),
        exchange=PRIVATE_EXCHANGE,
    )
