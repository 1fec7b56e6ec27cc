"""The admin dashboard."""
