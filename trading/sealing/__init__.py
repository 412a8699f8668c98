"""The sealed bid file, version 1 (docs/sealed-bid-format.md): sealing a bid folder on the
bidder's computer, reading a sealed file as it arrives, and opening it with both key halves."""

from trading.sealing.format import SealedBidInfo, SealedFormatError
from trading.sealing.reader import SealedBidReader, inspect_file
from trading.sealing.seal import seal
from trading.sealing.unseal import OpenedBid, OpenFailed, check_half, open_sealed, unwrap_half

__all__ = [
    "OpenFailed",
    "OpenedBid",
    "SealedBidInfo",
    "SealedBidReader",
    "SealedFormatError",
    "check_half",
    "inspect_file",
    "open_sealed",
    "seal",
    "unwrap_half",
]
