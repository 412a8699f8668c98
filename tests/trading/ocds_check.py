"""Validate OCDS packages against ../shared/ocds (schemas + CSV codelists), read at test time."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4


@cache
def _validator(shared: Path, package: str) -> Draft4Validator:
    ocds = shared / "ocds"
    release = json.loads((ocds / "release-schema.json").read_text())
    pkg = json.loads((ocds / package).read_text())
    registry: Registry = Registry().with_resource(
        release["id"], Resource.from_contents(release, default_specification=DRAFT4)
    )
    return Draft4Validator(pkg, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


@cache
def codes(shared: Path, name: str) -> frozenset[str]:
    with (shared / "ocds" / "codelists" / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        return frozenset(row["Code"] for row in csv.DictReader(f))


def _errors(validator: Draft4Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def check_release(shared: Path, r: dict[str, Any]) -> None:
    assert set(r["tag"]) <= codes(shared, "releaseTag"), r["tag"]
    assert r["initiationType"] in codes(shared, "initiationType")
    for p in r["parties"]:
        assert set(p["roles"]) <= codes(shared, "partyRole"), p["roles"]
    t = r["tender"]
    assert t["status"] in codes(shared, "tenderStatus"), t["status"]
    assert t["procurementMethod"] in codes(shared, "method"), t["procurementMethod"]
    assert t["mainProcurementCategory"] in codes(shared, "procurementCategory")
    assert t["awardCriteria"] in codes(shared, "awardCriteria"), t["awardCriteria"]
    assert set(t["submissionMethod"]) <= codes(shared, "submissionMethod")
    assert t["value"]["currency"] == "CNY"
    assert "CNY" in codes(shared, "currency")
    for lot in t.get("lots", []):
        assert lot["status"] in codes(shared, "tenderStatus")
    for d in t.get("documents", []):
        assert d["documentType"] in codes(shared, "documentType"), d["documentType"]


def check_release_package(shared: Path, pkg: dict[str, Any]) -> None:
    errors = _errors(_validator(shared, "release-package-schema.json"), pkg)
    assert not errors, errors
    for r in pkg["releases"]:
        check_release(shared, r)


def check_record_package(shared: Path, pkg: dict[str, Any]) -> None:
    errors = _errors(_validator(shared, "record-package-schema.json"), pkg)
    assert not errors, errors
    for rec in pkg["records"]:
        assert rec["compiledRelease"]["tag"] == ["compiled"]
        check_release(shared, rec["compiledRelease"])
