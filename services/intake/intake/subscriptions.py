"""Every event intake consumes, in one table. intake is a source of truth: it consumes none."""

from shared.consumer import Subscriptions

SUBSCRIPTIONS = Subscriptions()
