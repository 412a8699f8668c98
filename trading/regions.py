"""The regions a tender is located in: 潜江市 (Hubei)'s divisions, one list for every form,
filter, page and the API (decision 0106).

A tender stores the region's code (``yuanlin``); people read its label in their language
(``label(code)``). Forms offer :func:`options`; the portal's region filter uses the same list.
:func:`parse` also accepts a region's Chinese or English name, so an API client (or a record
written before the list existed) that sends ``园林街道`` means ``yuanlin``.
"""

from __future__ import annotations

import enum

from tenderhall import labels


class Region(enum.StrEnum):
    """潜江市's divisions: the city level, its streets, towns, the development zone, the
    management areas (管理区) and the seed farm."""

    city = "city"  # 市本级
    yuanlin = "yuanlin"  # 园林街道
    yangshi = "yangshi"  # 杨市街道
    zhouji = "zhouji"  # 周矶街道
    guanghua = "guanghua"  # 广华街道
    taifeng = "taifeng"  # 泰丰街道
    gaochang = "gaochang"  # 高场街道
    zekou = "zekou"  # 泽口街道
    zhugentan = "zhugentan"  # 竹根滩镇
    yuyang = "yuyang"  # 渔洋镇
    wangchang = "wangchang"  # 王场镇
    gaoshibei = "gaoshibei"  # 高石碑镇
    xiongkou = "xiongkou"  # 熊口镇
    laoxin = "laoxin"  # 老新镇
    haokou = "haokou"  # 浩口镇
    jiyukou = "jiyukou"  # 积玉口镇
    zhangjin = "zhangjin"  # 张金镇
    longwan = "longwan"  # 龙湾镇
    development_zone = "development_zone"  # 潜江经济开发区
    zhouji_farm = "zhouji_farm"  # 周矶管理区
    houhu_farm = "houhu_farm"  # 后湖管理区
    xiongkou_farm = "xiongkou_farm"  # 熊口管理区
    zongkou_farm = "zongkou_farm"  # 总口管理区
    bailuhu_farm = "bailuhu_farm"  # 白鹭湖管理区
    yunlianghu_farm = "yunlianghu_farm"  # 运粮湖管理区
    haokou_seed_farm = "haokou_seed_farm"  # 浩口原种场


REGION_LABELS: dict[Region, tuple[str, str]] = {
    Region.city: ("市本级", "City level"),
    Region.yuanlin: ("园林街道", "Yuanlin Subdistrict"),
    Region.yangshi: ("杨市街道", "Yangshi Subdistrict"),
    Region.zhouji: ("周矶街道", "Zhouji Subdistrict"),
    Region.guanghua: ("广华街道", "Guanghua Subdistrict"),
    Region.taifeng: ("泰丰街道", "Taifeng Subdistrict"),
    Region.gaochang: ("高场街道", "Gaochang Subdistrict"),
    Region.zekou: ("泽口街道", "Zekou Subdistrict"),
    Region.zhugentan: ("竹根滩镇", "Zhugentan Town"),
    Region.yuyang: ("渔洋镇", "Yuyang Town"),
    Region.wangchang: ("王场镇", "Wangchang Town"),
    Region.gaoshibei: ("高石碑镇", "Gaoshibei Town"),
    Region.xiongkou: ("熊口镇", "Xiongkou Town"),
    Region.laoxin: ("老新镇", "Laoxin Town"),
    Region.haokou: ("浩口镇", "Haokou Town"),
    Region.jiyukou: ("积玉口镇", "Jiyukou Town"),
    Region.zhangjin: ("张金镇", "Zhangjin Town"),
    Region.longwan: ("龙湾镇", "Longwan Town"),
    Region.development_zone: ("潜江经济开发区", "Qianjiang Economic Development Zone"),
    Region.zhouji_farm: ("周矶管理区", "Zhouji Management Area"),
    Region.houhu_farm: ("后湖管理区", "Houhu Management Area"),
    Region.xiongkou_farm: ("熊口管理区", "Xiongkou Management Area"),
    Region.zongkou_farm: ("总口管理区", "Zongkou Management Area"),
    Region.bailuhu_farm: ("白鹭湖管理区", "Bailuhu Management Area"),
    Region.yunlianghu_farm: ("运粮湖管理区", "Yunlianghu Management Area"),
    Region.haokou_seed_farm: ("浩口原种场", "Haokou Seed Farm"),
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
