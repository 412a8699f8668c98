"""Lot opening keys: the opening certificate of each lot, its private key sealed under an opening
secret split among the tender's custodians, and the custodians' encryption certificates."""
