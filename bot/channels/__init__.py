"""Channels as the rest of the hotline sees them: the protocol, its errors and the one wiring."""
