"""sessions service."""
