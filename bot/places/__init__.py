"""Places: Vietnam's wards and communes (the 2025 two-level units) and their older names."""
