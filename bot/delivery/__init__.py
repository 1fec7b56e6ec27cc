"""Delivery: the queue between channel webhooks and the worker that runs turns and sends replies."""
