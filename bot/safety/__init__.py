"""The emergency safety layer: life-threatening messages recognised by rules, before any model.

`detect_emergency(text)` is stdlib only, pure and fast, so the pipeline can call it on every
message (in the middle of a form too) and the Rasa action can call it again.
"""

from bot.safety.detector import CONFIRM_PAYLOAD, Category, SafetyResult, detect_emergency

__all__ = ["CONFIRM_PAYLOAD", "Category", "SafetyResult", "detect_emergency"]
