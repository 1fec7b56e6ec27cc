"""Staff accounts: users, roles (admin, staff, team), passwords and ward scope."""
