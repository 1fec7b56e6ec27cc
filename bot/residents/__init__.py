"""Residents: one per channel identity (conversation id)."""
