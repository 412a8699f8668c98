"""The regions a tender is located in: the city's districts and counties, one list for every form,
filter and page (decision 0106).

A tender stores the region's code (``gulou``); people read its label in their language
(``label(code)``). Forms offer :func:`options`; the portal's region filter uses the same list.
:func:`parse` also accepts a region's Chinese or English name, so an API client (or a record
written before the list existed) that sends ``鼓楼区`` means ``gulou``.
"""

from __future__ import annotations

import enum

from tenderhall import labels


class Region(enum.StrEnum):
    city = "city"  # 市本级
    gulou = "gulou"
    taijiang = "taijiang"
    cangshan = "cangshan"
    mawei = "mawei"
    jinan = "jinan"
    changle = "changle"
    fuqing = "fuqing"
    minhou = "minhou"
    lianjiang = "lianjiang"
    luoyuan = "luoyuan"
    minqing = "minqing"
    yongtai = "yongtai"
    pingtan = "pingtan"


REGION_LABELS: dict[Region, tuple[str, str]] = {
    Region.city: ("市本级", "City level"),
    Region.gulou: ("鼓楼区", "Gulou District"),
    Region.taijiang: ("台江区", "Taijiang District"),
    Region.cangshan: ("仓山区", "Cangshan District"),
    Region.mawei: ("马尾区", "Mawei District"),
    Region.jinan: ("晋安区", "Jin'an District"),
    Region.changle: ("长乐区", "Changle District"),
    Region.fuqing: ("福清市", "Fuqing City"),
    Region.minhou: ("闽侯县", "Minhou County"),
    Region.lianjiang: ("连江县", "Lianjiang County"),
    Region.luoyuan: ("罗源县", "Luoyuan County"),
    Region.minqing: ("闽清县", "Minqing County"),
    Region.yongtai: ("永泰县", "Yongtai County"),
    Region.pingtan: ("平潭县", "Pingtan County"),
}
labels.define(Region, REGION_LABELS)

_BY_NAME: dict[str, Region] = {
    **{r.value: r for r in Region},
    **{zh: r for r, (zh, _en) in REGION_LABELS.items()},
    **{en.lower(): r for r, (_zh, en) in REGION_LABELS.items()},
}


def options() -> list[tuple[str, str]]:
    """``(code, label)`` pairs for a select, in the list's order, in the reader's language."""
    return labels.options(Region)


def parse(value: str | None) -> Region | None:
    """The region ``value`` names (a code, or a Chinese or English name); None when empty.
    Raises ``ValueError`` for anything else."""
    v = (value or "").strip()
    if not v:
        return None
    found = _BY_NAME.get(v) or _BY_NAME.get(v.lower())
    if found is None:
        raise ValueError(v)
    return found


def label(value: str | None) -> str:
    """What a person reads for a stored region: its label; a legacy free-text name as written."""
    if not value:
        return ""
    try:
        region = parse(value)
    except ValueError:
        return value
    return labels.label(region, Region) if region else ""
