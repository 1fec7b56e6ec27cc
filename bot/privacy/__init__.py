"""A resident's right to see and delete their personal data (Law 91/2025/QH15)."""
