"""Zalo Official Account: signed webhooks in, the OA message API (zalo-sdk) out."""
