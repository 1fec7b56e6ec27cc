"""Exports of request lists."""
