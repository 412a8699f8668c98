"""The kernel's cryptography for sealed bids: algorithm profiles, STREAM-mode chunked AEAD,
CMS envelopes for 32-byte secrets, CMS SignedData, and k-of-n secret sharing with commitments."""
