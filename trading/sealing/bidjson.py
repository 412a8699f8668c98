"""bid.json, the structured part of a bid: price, duration, quality commitment, project manager
and key personnel. Checked before sealing and again at opening."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from tenderhall.identifiers import InvalidIdNumber, is_valid_credit_code, validate_id_number

BID_FORMAT = "tenderhall-bid"
MAX_PRICE_FEN = 10**15


class BidFileError(ValueError):
    """bid.json is wrong; ``problems`` lists (field, zh, en), one per problem."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{f}: {zh} / {en}" for f, zh, en in problems))


def safe_relative(path: str) -> bool:
    p = PurePosixPath(path)
    return (
        bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path and "\x00" not in path
    )


def check_bid(bid: Any, folder: Path | None = None) -> dict[str, Any]:
    problems: list[tuple[str, str, str]] = []

    def bad(field: str, zh: str, en: str) -> None:
        problems.append((field, zh, en))

    if not isinstance(bid, dict):
        raise BidFileError([("bid.json", "bid.json 必须是一个 JSON 对象", "bid.json must be a JSON object")])
    if bid.get("format") != BID_FORMAT or bid.get("version") != 1:
        bad(
            "format",
            "format 应为 tenderhall-bid，version 应为 1",
            "format must be tenderhall-bid and version 1",
        )
    if not isinstance(bid.get("tender"), str) or not bid.get("tender"):
        bad("tender", "缺少招标编号", "The tender reference is missing")
    if not isinstance(bid.get("lot"), int) or bid["lot"] < 1:
        bad("lot", "标段号应为正整数", "The lot must be a positive whole number")
    if not isinstance(bid.get("bidder_credit_code"), str) or not is_valid_credit_code(
        bid["bidder_credit_code"]
    ):
        bad("bidder_credit_code", "统一社会信用代码无效", "The unified social credit code is not valid")
    if not isinstance(bid.get("bidder_name"), str) or not bid.get("bidder_name", "").strip():
        bad("bidder_name", "缺少投标人名称", "The bidder's name is missing")
    price = bid.get("price_fen")
    if not isinstance(price, int) or isinstance(price, bool) or not 0 < price <= MAX_PRICE_FEN:
        bad("price_fen", "投标报价（分）应为正整数", "The price (in fen) must be a positive whole number")
    days = bid.get("duration_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 3650:
        bad("duration_days", "工期（天）应为 1 至 3650 的整数", "The duration must be 1 to 3650 days")
    if not isinstance(bid.get("quality_commitment"), str) or not bid.get("quality_commitment", "").strip():
        bad("quality_commitment", "缺少质量承诺", "The quality commitment is missing")
    people = [("project_manager", bid.get("project_manager"))]
    staff = bid.get("key_personnel", [])
    if not isinstance(staff, list):
        bad("key_personnel", "主要人员应为列表", "Key personnel must be a list")
        staff = []
    people += [(f"key_personnel[{i}]", p) for i, p in enumerate(staff)]
    for field, person in people:
        if not isinstance(person, dict):
            bad(field, "缺少人员信息", "The person is missing")
            continue
        if not isinstance(person.get("name"), str) or not person.get("name", "").strip():
            bad(f"{field}.name", "缺少姓名", "The name is missing")
        try:
            validate_id_number(str(person.get("id_number", "")))
        except InvalidIdNumber:
            bad(f"{field}.id_number", "居民身份证号码无效", "The ID card number is not valid")
        _check_path(bad, f"{field}.photo", person.get("photo"), folder, "照片", "photo")
    docs = bid.get("documents", [])
    if not isinstance(docs, list) or not docs:
        bad("documents", "至少需要一份投标文件", "At least one bid document is needed")
    else:
        for i, d in enumerate(docs):
            _check_path(bad, f"documents[{i}]", d, folder, "文件", "document")
    if problems:
        raise BidFileError(problems)
    return bid


def _check_path(bad: Any, field: str, value: Any, folder: Path | None, zh: str, en: str) -> None:
    if not isinstance(value, str) or not safe_relative(value):
        bad(
            field,
            f"{zh}路径应为文件夹内的相对路径",
            f"The {en} path must be a relative path inside the folder",
        )
    elif folder is not None and not (folder / value).is_file():
        bad(field, f"找不到{zh} {value}", f"The {en} {value} does not exist")


def load_bid(folder: Path) -> dict[str, Any]:
    path = folder / "bid.json"
    try:
        bid = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BidFileError([("bid.json", "文件夹中没有 bid.json", "The folder has no bid.json")]) from None
    except (UnicodeDecodeError, ValueError):
        raise BidFileError([("bid.json", "bid.json 不是有效的 JSON", "bid.json is not valid JSON")]) from None
    return check_bid(bid, folder)
