"""Advisories: short messages admins send to subscribers of areas, with two-person approval."""
