"""Editable content (facts, FAQ answers, rumours) read from data files at run time."""
