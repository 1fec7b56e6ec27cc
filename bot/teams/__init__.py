"""Local support teams and the wards they cover; routing a request to its team."""
