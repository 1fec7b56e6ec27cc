"""Staff sign-in for the web app: sessions, CSRF, login rate limits, role dependencies, pages."""
