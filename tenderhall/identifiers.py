"""Identifiers of DOMAIN.md section 2: unified social credit codes (GB 32100-2015) and personal
ID numbers (GB 11643-1999, ISO 7064 MOD 11-2)."""

from __future__ import annotations

from tenderhall.errors import InvalidInput

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 3^(i-1) mod 31 for i = 1..17


class InvalidCreditCode(InvalidInput):
    code = "invalid_credit_code"


class InvalidIdNumber(InvalidInput):
    code = "invalid_id_number"


def credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised code or raise ``InvalidCreditCode`` saying exactly what is wrong."""
    c = (code or "").strip().upper()
    if len(c) != 18:
        raise InvalidCreditCode(
            f"统一社会信用代码应为18位，实际为{len(c)}位：{c!r}",
            f"A unified social credit code has 18 characters; {c!r} has {len(c)}",
        )
    bad = sorted({ch for ch in c if ch not in _CREDIT_VALUE})
    if bad:
        raise InvalidCreditCode(
            f"统一社会信用代码含有不允许的字符：{''.join(bad)}（不得使用 I、O、Z、S、V）",
            f"The credit code contains characters outside its alphabet: {''.join(bad)} "
            "(I, O, Z, S and V are never used)",
        )
    expected = credit_check_char(c[:17])
    if c[17] != expected:
        raise InvalidCreditCode(
            f"统一社会信用代码校验位错误：第18位应为 {expected}，实际为 {c[17]}",
            f"The credit code's check character is wrong: expected {expected}, found {c[17]}",
        )
    return c


def is_valid_credit_code(code: str) -> bool:
    try:
        validate_credit_code(code)
    except InvalidCreditCode:
        return False
    return True


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with their check character (demo data and tests)."""
    return first17 + credit_check_char(first17)


_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_id_number(number: str) -> str:
    n = (number or "").strip().upper()
    if len(n) != 18 or not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        raise InvalidIdNumber(
            "身份证号码应为18位：前17位为数字，第18位为数字或X",
            "An ID number has 18 characters: 17 digits then a digit or X",
        )
    expected = id_check_char(n[:17])
    if n[17] != expected:
        raise InvalidIdNumber(
            f"身份证号码校验位错误：第18位应为 {expected}，实际为 {n[17]}",
            f"The ID number's check character is wrong: expected {expected}, found {n[17]}",
        )
    return n


def mask_id_number(number: str) -> str:
    """``4290**********1234``: shown to everyone but the owner and supervisors."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
