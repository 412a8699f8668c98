"""Trading routes: the JSON API, the OCDS publication API and the web pages."""

from __future__ import annotations

from typing import Any

from tenderhall.auth.models import Role
from tenderhall.settings import Settings
from tenderhall.web.render import NavOrder, add_nav
from trading import (
    desk,  # noqa: F401 - registers the trading sections of the desks
    live,  # noqa: F401 - declares the tender page's live topic
)
from trading.api import API_ROUTES
from trading.pages import pages

add_nav("/tenders", "交易公告", "Notices", order=NavOrder.NOTICES)
add_nav("/tenders", "招标公告", "Tender notices", parent="/tenders")
add_nav("/tenders?kind=amendment", "变更公告", "Amendments", parent="/tenders")
add_nav("/tenders?kind=result", "结果公告", "Results", parent="/tenders")
add_nav("/manage/tenders", "项目管理", "My tenders", {Role.tenderee, Role.agency})
add_nav("/manage/mandates", "委托代理", "Mandates", {Role.tenderee, Role.agency})
add_nav("/my/notifications", "我的通知", "Notifications", {Role.bidder})
add_nav("/manage/procedures", "程序设置", "Procedures", {Role.admin})
add_nav("/manage/organisations", "单位管理", "Organisations", {Role.admin})


def routes(settings: Settings) -> list[Any]:
    """Built from the settings ``create_app`` was given (the upload form's body limit)."""
    return [*API_ROUTES, *pages(settings)]
