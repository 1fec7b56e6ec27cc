"""Hand-off: conversations a person should take over."""
