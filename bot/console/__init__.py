"""Staff console: who owns a conversation, the transcript, the queue and staff replies."""
