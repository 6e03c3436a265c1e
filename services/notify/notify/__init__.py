"""notify: client notification preferences, message deliveries (email, SMS), staff alerts and
signed webhook subscriptions."""
