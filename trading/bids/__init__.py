"""Bids: receipts of sealed bids (submission, replacement, withdrawal) and their checks."""
