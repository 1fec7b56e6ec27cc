"""Consent: what a resident agreed to (or refused) before giving personal data, and when."""
