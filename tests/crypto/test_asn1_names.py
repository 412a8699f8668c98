"""Using the kernel's CMS code first in a process leaves pyhanko's attribute names usable (the
PDF signer needs them): each case runs in a fresh interpreter, as a worker process starts."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from asn1crypto import cms
from tenderhall.crypto.envelope import recipients_of
try:
    recipients_of(b"")
except Exception:
    pass
cms.CMSAttribute({"type": "content_type", "values": ["data"]})  # the name table is built now
from pyhanko.sign.ades import cades_asn1  # noqa: F401 - what the PDF signer imports later
for name in ("signing_certificate_v2", "mime_type", "signature_time_stamp_token"):
    cms.CMSAttributeType(name)
print("ok")
"""


def test_the_name_tables_are_complete_when_the_kernel_crypto_goes_first() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
