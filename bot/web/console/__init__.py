"""The staff console pages (`/console`): the queue, a conversation, live updates."""
