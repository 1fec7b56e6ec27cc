"""Ward notices: what a ward or province tells its residents (restrictions, distribution
points, testing and vaccination sessions, support plans), answered by the bot from data."""
