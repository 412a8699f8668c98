"""An independent sealer for TenderHall sealed bids, format version 1 (docs/sealed-bid-format.md).

Uses only the Python standard library and `cryptography` (>= 50). Usage:

    python reference_sealer.py FOLDER OUT.thbid --tender REF --lot N \
        --sign-p12 SIGN.p12 --password PASS --enc-cert ENC.pem --opening-cert LOT.pem
"""

import argparse
import base64
import datetime
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

MAGIC = b"THBID\x00\x01\n"
ALGORITHMS = {
    "content": "aes-256-gcm-stream",
    "kdf": "hkdf-sha256",
    "hash": "sha-256",
    "key_transport": "cms-enveloped-rsa-pkcs1v15-aes256cbc",
    "signature": "cms-signed-data",
}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def frame(kind, body):
    return kind + len(body).to_bytes(4, "big") + body


def envelope(secret, cert):
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(secret).add_recipient(cert)
    builder = builder.set_content_encryption_algorithm(algorithms.AES256)
    return base64.b64encode(builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])).decode()


def fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class Sink(io.RawIOBase):
    """Receives the plaintext (salt, then the tar stream); writes sealed chunk frames."""

    def __init__(self, out, key, prefix, header_digest, chunk_size, ct_hash):
        self.out, self.aead, self.prefix, self.digest = out, AESGCM(key), prefix, header_digest
        self.size, self.ct_hash, self.buf = chunk_size, ct_hash, bytearray()
        self.index = self.written = 0
        self.plain_hash, self.plain_size = hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, data):
        data = bytes(data)
        self.plain_hash.update(data)
        self.plain_size += len(data)
        self.buf += data
        while len(self.buf) > self.size:  # keep at least one byte back for the final chunk
            self.emit(bytes(self.buf[: self.size]), final=False)
            del self.buf[: self.size]
        return len(data)

    def emit(self, plaintext, final):
        nonce = self.prefix + self.index.to_bytes(4, "big")
        aad = self.digest + self.index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
        body = frame(b"F" if final else b"C", self.aead.encrypt(nonce, plaintext, aad))
        self.out.write(body)
        self.ct_hash.update(body)
        self.written += len(body)
        self.index += 1


def seal(folder, out, tender, lot, sign_key, sign_cert, enc_cert, opening_cert, chunk_size=1 << 20):
    code = sign_cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value
    bidder_half, opening_half = os.urandom(32), os.urandom(32)
    prefix, salt = os.urandom(8), os.urandom(32)
    bound = {"version": 1, "profile": "rsa-aes256gcm-sha256", "algorithms": ALGORITHMS, "tender": tender}
    bound.update(lot=lot, bidder_credit_code=code)  # repeated exactly in the manifest
    header = {
        "format": "tenderhall-sealed-bid",
        **bound,
        "chunk_size": chunk_size,
        "nonce_prefix": base64.b64encode(prefix).decode(),
        "kdf_salt": base64.b64encode(salt).decode(),
        "envelopes": {
            "bidder": envelope(bidder_half, enc_cert),
            "opening": envelope(opening_half, opening_cert),
            "deposit": None,
        },
        "half_commitments": {
            "bidder": hashlib.sha256(b"bidder" + bidder_half).hexdigest(),
            "opening": hashlib.sha256(b"opening" + opening_half).hexdigest(),
        },
        "opening_certificate_sha256": fingerprint(opening_cert),
        "bidder_encryption_certificate_sha256": fingerprint(enc_cert),
    }
    header_body = canonical(header)
    digest = hashlib.sha256(header_body).digest()
    info = b"TenderHall sealed bid v1 content key"
    key = HKDF(hashes.SHA256(), 32, salt, info).derive(bidder_half + opening_half)
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    files = ["bid.json", *sorted(n for n in names if n != "bid.json")]
    with open(out, "wb") as f:
        start = MAGIC + frame(b"H", header_body)
        f.write(start)
        ct_hash = hashlib.sha256(start)
        sink = Sink(f, key, prefix, digest, chunk_size, ct_hash)
        sink.write(os.urandom(32))  # the plaintext salt
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name in files:
                ti = tarfile.TarInfo(name)
                ti.size, ti.mtime, ti.mode = (folder / name).stat().st_size, 0, 0o644
                with open(folder / name, "rb") as src:
                    tar.addfile(ti, src)
        sink.emit(bytes(sink.buf), final=True)
        manifest = {
            "format": "tenderhall-bid-manifest",
            **bound,
            "header_sha256": digest.hex(),
            "ciphertext_sha256": ct_hash.hexdigest(),
            "ciphertext_size": len(start) + sink.written,
            "plaintext_sha256": sink.plain_hash.hexdigest(),
            "plaintext_size": sink.plain_size,
            "chunk_count": sink.index,
            "tool": {"name": "reference-sealer", "version": "1"},
            "machine": hashlib.sha256(b"ref").hexdigest(),
            "sealed_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        signed = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(canonical(manifest))
            .add_signer(sign_cert, sign_key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        )
        f.write(frame(b"M", signed))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("folder", "out"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--tender", required=True)
    ap.add_argument("--lot", type=int, required=True)
    for name in ("--sign-p12", "--enc-cert", "--opening-cert"):
        ap.add_argument(name, type=Path, required=True)
    ap.add_argument("--password", required=True)
    a = ap.parse_args()
    k, c, _ = pkcs12.load_key_and_certificates(a.sign_p12.read_bytes(), a.password.encode())
    pem = lambda p: x509.load_pem_x509_certificate(p.read_bytes())  # noqa: E731
    seal(a.folder, a.out, a.tender, a.lot, k, c, pem(a.enc_cert), pem(a.opening_cert))
