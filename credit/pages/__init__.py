"""Credit web pages: public disclosure (:mod:`credit.pages.public`), supervisors' record pages
(:mod:`credit.pages.manage`), administration (:mod:`credit.pages.admin`) and subjects' own pages
(:mod:`credit.pages.mine`).

Element ids and form field names are stable (a browser test relies on them)."""

from __future__ import annotations

from credit.pages.admin import catalog_page, catalog_save, deliveries_page, resend_delivery, save_receiver
from credit.pages.manage import (
    manage_action,
    manage_create,
    manage_detail,
    manage_list,
    manage_new,
    manage_repair,
)
from credit.pages.mine import mine_defence, mine_detail, mine_page, mine_repair
from credit.pages.public import (
    atom_feed,
    blacklist_page,
    company_page,
    export_csv,
    notice_pdf,
    record_page,
    search_page,
    stats_page,
)
from tenderhall.auth.models import Role
from tenderhall.web.render import NavOrder, add_nav

add_nav("/credit", "信用信息", "Credit information", order=NavOrder.CREDIT)
add_nav("/credit", "信用公示", "Credit disclosure", parent="/credit")
add_nav("/credit/blacklist", "黑名单", "Blacklist", parent="/credit")
add_nav("/credit/stats", "信用统计", "Statistics", parent="/credit")
add_nav("/credit/manage", "信用监管", "Credit records", {Role.supervisor, Role.admin})
add_nav("/credit/mine", "我的信用", "My credit", {Role.bidder, Role.agency, Role.expert})

PAGE_ROUTES = [
    search_page,
    record_page,
    notice_pdf,
    blacklist_page,
    company_page,
    stats_page,
    export_csv,
    atom_feed,
    manage_list,
    manage_new,
    manage_create,
    deliveries_page,
    resend_delivery,
    save_receiver,
    catalog_page,
    catalog_save,
    manage_repair,
    manage_detail,
    manage_action,
    mine_page,
    mine_detail,
    mine_defence,
    mine_repair,
]
