"""The contact card intake sends to notify over the private exchange (never ``rapport.events``).

It is the only message that carries contact details; notify keeps them encrypted at rest.
"""

from __future__ import annotations

from intake.models import Client


def card(client: Client) -> dict:
    return {
        "client_id": client.id,
        "location_id": client.location_id,
        "version": client.version,
        "first_name": client.first_name,
        "email": client.email,
        "phone": client.phone,
        "preferred_channel": client.preferred_channel,
        "language": client.language,
    }
