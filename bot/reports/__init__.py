"""Reports for admins."""
