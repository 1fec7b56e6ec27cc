"""The FastAPI web app: web chat, health checks, (later) webhooks, staff console, dashboard."""
