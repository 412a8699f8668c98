"""The API's error body: problem details (RFC 9457) as the OpenAPI document describes them (the
``Problem`` schema, referenced by every API operation's error responses), in the language the
client asks for with Accept-Language, both languages always alongside."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from litestar.testing import TestClient

from tenderhall.errors import AppError, problem_language

MISSING_TENDER = "/api/trading/tenders/987654321"


def _problem_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's Problem schema, its references resolvable (a JSON Schema of its own)."""
    return {"$ref": "#/components/schemas/Problem", "components": doc["components"]}


def test_the_documented_error_body_is_what_a_missing_tender_answers(client: TestClient[Any]) -> None:
    doc = client.get("/schema/openapi.json").json()
    problem = doc["components"]["schemas"]["Problem"]
    r = client.get(MISSING_TENDER)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(problem["required"]) <= set(body) <= set(problem["properties"])
    assert set(body) == {"type", "title", "status", "detail", "detail_zh", "detail_en", "code", "instance"}
    jsonschema.validate(body, _problem_schema(doc))

    # the operation says so: its error responses are the Problem response, in problem+json
    errors = {
        k: v
        for k, v in doc["paths"]["/api/trading/tenders/{tender_id}"]["get"]["responses"].items()
        if k[0] in "45"
    }
    assert errors == {
        "4XX": {"$ref": "#/components/responses/Problem"},
        "5XX": {"$ref": "#/components/responses/Problem"},
    }
    content = doc["components"]["responses"]["Problem"]["content"]
    assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_every_api_operation_documents_problems_and_none_keeps_litestars_error_shape(
    client: TestClient[Any],
) -> None:
    doc = client.get("/schema/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        if path.startswith("/api/")
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]
    assert len(operations) > 20
    wrong = [
        f"{method.upper()} {path}"
        for path, method, op in operations
        if {k for k in op["responses"] if k[0] in "45"} != {"4XX", "5XX"}
    ]
    assert wrong == []
    assert '"status_code"' not in client.get("/schema/openapi.json").text


def test_field_errors_are_listed_as_the_schema_says(client: TestClient[Any]) -> None:
    doc = client.get("/schema/openapi.json").json()
    r = client.get("/api/audit/consistency", params={"first": "many", "second": "more"})
    assert r.status_code == 422, r.text
    body = r.json()
    jsonschema.validate(body, _problem_schema(doc))
    assert body["code"] == "invalid_input"
    assert body["errors"] and {e["field"] for e in body["errors"]} <= {"first", "second"}
    for e in body["errors"]:
        assert set(e) == {"field", "detail_zh", "detail_en"}
        assert e["detail_zh"] != e["detail_en"]
        assert e["detail_zh"].startswith("应为整数")

    missing = client.get("/api/audit/consistency").json()
    jsonschema.validate(missing, _problem_schema(doc))
    assert missing["errors"] == [
        {"field": "first", "detail_zh": "缺少必填参数", "detail_en": "Missing required query parameter"}
    ]


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh", "zh"),
        ("en", "en"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("zh;q=0.5, en;q=0.7", "en"),
        ("fr-FR, fr;q=0.9", "zh"),
        ("zh, en", "zh"),
        ("en;q=0, zh;q=0.1", "zh"),
    ],
)
def test_accept_language_picks_the_language_of_title_and_detail(header: str | None, lang: str) -> None:
    assert problem_language(header) == lang


def test_an_api_problem_answers_in_the_language_asked_for_with_both_alongside(
    client: TestClient[Any],
) -> None:
    zh = client.get(MISSING_TENDER).json()
    asked_zh = client.get(MISSING_TENDER, headers={"accept-language": "zh-CN,zh;q=0.9"}).json()
    en = client.get(MISSING_TENDER, headers={"accept-language": "en-US,en;q=0.9"}).json()
    assert zh == asked_zh
    assert zh["detail_zh"] == en["detail_zh"] and zh["detail_en"] == en["detail_en"]
    assert zh["detail_zh"] != zh["detail_en"]
    assert (zh["title"], zh["detail"]) == (zh["detail_zh"], zh["detail_zh"])
    assert (en["title"], en["detail"]) == (en["detail_en"], en["detail_en"])


def test_a_sign_in_refusal_answers_in_the_language_asked_for(client: TestClient[Any]) -> None:
    """The sign-in routes return their refusals themselves (the attempt's record commits)."""
    payload = {"username": "nobody", "password": "wrong-password", "totp": "000000"}
    zh = client.post("/api/auth/token", json=payload).json()
    en = client.post("/api/auth/token", json=payload, headers={"accept-language": "en"}).json()
    assert zh["detail"] == zh["detail_zh"] and en["detail"] == en["detail_en"]
    assert zh["detail_zh"] == en["detail_zh"] != en["detail_en"]


def test_a_problem_carries_its_extra_members() -> None:
    err = AppError(
        "请稍后再试", "Try again later", status=429, code="rate_limited", extra={"retry_after": 30}
    )
    body = err.problem("/api/x", lang="en")
    assert body["retry_after"] == 30
    assert (body["title"], body["detail"], body["instance"]) == (
        "Try again later",
        "Try again later",
        "/api/x",
    )
