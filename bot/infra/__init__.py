"""Shared infrastructure: Redis (or its in-process stand-in)."""
