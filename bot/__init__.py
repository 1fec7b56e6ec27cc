"""Citizen help hotline: the service side (settings, database, domain services, web app, CLI)."""
