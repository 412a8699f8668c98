"""SoftHSM2 tokens for the agent's tests: a token in a temporary SOFTHSM2_CONF directory, with a
dev-CA bidder key imported by ``softhsm2-util --import`` and its certificate beside it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tenderhall.pki.devca import Issued
from tests.conftest import missing, need_command

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
SO_PIN = "87654321"


def softhsm_module() -> str:
    """The SoftHSM2 PKCS#11 library, or skip (fail under TENDERHALL_REQUIRE_SERVICES=1)."""
    need_command("softhsm2-util", "the PKCS#11 token tests cannot make a token", "softhsm2")
    found = next((m for m in MODULE_CANDIDATES if Path(m).is_file()), None)
    if found is None:
        missing("Debian's softhsm2 PKCS#11 library is not installed (apt-get install softhsm2)")
    return found


@dataclass(frozen=True)
class SoftToken:
    conf: Path
    module: str
    label: str
    pin: str
    key_label: str
    key_id: str

    @property
    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}


def softhsm_dir(folder: Path) -> Path:
    """A SOFTHSM2_CONF file whose tokens live under ``folder``."""
    (folder / "tokens").mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    return conf


def make_token(
    conf: Path, module: str, issued: Issued, *, label: str, pin: str, key_id: str = "01"
) -> SoftToken:
    """Initialise a token, import ``issued``'s key (a PKCS#8 file removed right after) and store
    its certificate on the token with the same id (through python-pkcs11, in a subprocess so this
    process's PKCS#11 library is initialised only once the tokens exist)."""
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    run = lambda *args: subprocess.run(args, env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN)
    key_file = conf.parent / f"{label}.key.pem"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            issued.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    try:
        run(
            "softhsm2-util",
            "--import",
            str(key_file),
            "--token",
            label,
            "--label",
            f"{label}-sign",
            "--id",
            key_id,
            "--pin",
            pin,
        )
    finally:
        key_file.unlink()
    cert_file = conf.parent / f"{label}.cert.der"
    cert_file.write_bytes(issued.certificate.public_bytes(serialization.Encoding.DER))
    script = (
        "import sys, pkcs11\n"
        "from pkcs11 import Attribute, ObjectClass, CertificateType\n"
        "from cryptography import x509\n"
        "module, label, pin, key_id, path = sys.argv[1:]\n"
        "der = open(path, 'rb').read()\n"
        "cert = x509.load_der_x509_certificate(der)\n"
        "tok = pkcs11.lib(module).get_token(token_label=label)\n"
        "with tok.open(rw=True, user_pin=pin) as s:\n"
        "    s.create_object({Attribute.CLASS: ObjectClass.CERTIFICATE,\n"
        "        Attribute.CERTIFICATE_TYPE: CertificateType.X_509, Attribute.TOKEN: True,\n"
        "        Attribute.LABEL: label + '-sign', Attribute.ID: bytes.fromhex(key_id),\n"
        "        Attribute.SUBJECT: cert.subject.public_bytes(), Attribute.VALUE: der})\n"
    )
    import sys

    run(sys.executable, "-c", script, module, label, pin, key_id, str(cert_file))
    return SoftToken(conf, module, label, pin, f"{label}-sign", key_id)
