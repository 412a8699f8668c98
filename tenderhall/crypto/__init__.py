"""The kernel's cryptography for sealed bids: algorithm profiles, STREAM-mode chunked AEAD,
CMS envelopes for 32-byte secrets, CMS SignedData, and k-of-n secret sharing with commitments.

asn1crypto builds each OID name table once, the first time a value of that type is made. The
modules that add names to those tables (asn1crypto's TSP and PDF types, pyhanko's CAdES
attributes, pyhanko-certvalidator's types) are imported here, before this package makes any value.
Otherwise names added later stay unknown, and pyhanko's PDF signing fails in the same process
(decision 0264)."""

import asn1crypto.pdf
import asn1crypto.tsp  # noqa: F401
import pyhanko.sign.signers  # noqa: F401
import pyhanko_certvalidator  # noqa: F401
