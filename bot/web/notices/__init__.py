"""/notices: ward notices written by admins (any area) and team members (their wards)."""
