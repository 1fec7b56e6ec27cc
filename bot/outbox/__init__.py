"""Outbound notifications written with the change they announce, delivered by a worker."""
