"""Admin pages: the index of /admin and account management (/admin/users)."""
