"""notify's subscription table, no I/O."""

from collections import Counter

from notify import domain
from notify.subscriptions import SUBSCRIPTIONS
from shared.events import EVENTS_EXCHANGE, PRIVATE_EXCHANGE


def test_contact_cards_come_only_from_the_private_exchange():
    bindings = SUBSCRIPTIONS.bindings()
    assert (PRIVATE_EXCHANGE, "client.contact.v1") in bindings
    assert [key for exchange, key in bindings if exchange == PRIVATE_EXCHANGE] == ["client.contact.v1"]


def test_every_templated_event_has_its_handler_and_every_forwarded_event_reaches_webhooks():
    public = {key for exchange, key in SUBSCRIPTIONS.bindings() if exchange == EVENTS_EXCHANGE}
    assert set(domain.EVENT_TEMPLATES) <= public
    assert public == set(domain.FORWARDED_EVENTS)
    for key in domain.FORWARDED_EVENTS:
        assert "forward_to_webhooks" in [s.name for s in SUBSCRIPTIONS.for_event(key)]


def test_a_handler_runs_once_per_event_since_its_name_is_the_inbox_key():
    pairs = Counter((s.event, s.name) for s in SUBSCRIPTIONS.entries)
    assert max(pairs.values()) == 1
