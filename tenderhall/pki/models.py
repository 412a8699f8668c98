"""Trust store: CA roots (CA mutual recognition), imported CRLs and the serials they revoke."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, UniqueConstraint

from tenderhall.db import utc_field


class TrustedCA(SQLModel, table=True):
    __tablename__ = "core_trusted_ca"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    subject: str = Field(max_length=500)
    fingerprint: str = Field(max_length=64, unique=True, index=True)  # SHA-256 of the DER
    certificate_pem: str
    not_after: dt.datetime = utc_field()
    active: bool = True
    # OCSP for the certificates this CA issues (decision 0202): the responder the platform asks,
    # and whether a certificate's own AIA responder may be asked when none is set here
    ocsp_url: str | None = Field(default=None, max_length=500)
    ocsp_use_aia: bool = False
    created_at: dt.datetime = utc_field(default_now=True)


class CRLImport(SQLModel, table=True):
    __tablename__ = "core_crl_import"

    id: int | None = Field(default=None, primary_key=True)
    ca_id: int = Field(foreign_key="core_trusted_ca.id", index=True)
    crl_number: int | None = None
    this_update: dt.datetime = utc_field()
    next_update: dt.datetime | None = utc_field(nullable=True)
    sha256: str = Field(max_length=64)
    der: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
    imported_at: dt.datetime = utc_field(default_now=True)


class RevokedCertificate(SQLModel, table=True):
    __tablename__ = "core_revoked_certificate"
    __table_args__ = (UniqueConstraint("ca_id", "serial"),)

    id: int | None = Field(default=None, primary_key=True)
    ca_id: int = Field(foreign_key="core_trusted_ca.id", index=True)
    serial: str = Field(max_length=64)  # hex
    revoked_at: dt.datetime = utc_field()
    reason: str | None = Field(default=None, max_length=40)
