"""The one path every channel's message takes: checks, dedupe, Rasa, replies."""
