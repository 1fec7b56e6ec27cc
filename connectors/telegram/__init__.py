"""Telegram: webhook and long polling in, python-telegram-bot's `Bot` out."""

import os

# PTB 22 turns durations such as RetryAfter.retry_after into `timedelta` in its next major
# version and warns on every read until a program opts in. Our code reads both forms; opting
# in now keeps a 429 from raising a deprecation warning inside PTB itself.
os.environ.setdefault("PTB_TIMEDELTA", "1")
