"""Health declarations and hardship (aid) requests: validation, priority, saving, status."""
