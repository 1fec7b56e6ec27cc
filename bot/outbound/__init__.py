"""The one outbound path: every message to a resident or a team leaves through here."""
