"""Residents' subscriptions to advisories for their ward and/or province."""
