"""Talking to Docker registries (API v2): references, the HTTP client, image copy."""
