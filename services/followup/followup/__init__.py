"""followup service."""
