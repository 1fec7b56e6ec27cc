"""What residents ask about: counts of messages per day, intent and channel (no personal data),
written by Rasa's event broker (`hotline_nlu/stats_broker.py`) and read by the dashboard and the
daily report."""
