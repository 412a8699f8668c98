# ruff: noqa: E501 - the pages' text, kept one sentence a line in both languages
"""The portal's own content pages: 政策法规 (the laws and rules the platform applies) and 服务指南
(how to take part, step by step, with the centre's contacts from ``settings.portal``).

Their text is static; it lives here as data so both languages sit side by side and a test can
check that every entry has both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.response import Template

from tenderhall.web.render import NavOrder, add_nav, render


@dataclass(frozen=True)
class Policy:
    key: str
    title_zh: str
    title_en: str
    about_zh: str
    about_en: str
    here_zh: str
    here_en: str


@dataclass(frozen=True)
class PolicyGroup:
    key: str
    zh: str
    en: str
    items: tuple[Policy, ...]


POLICIES: tuple[PolicyGroup, ...] = (
    PolicyGroup("laws", "法律", "Laws", (
        Policy(
            "bidding-law", "《中华人民共和国招标投标法》", "Bidding Law of the People's Republic of China",
            "规定必须招标的项目范围，以及招标、投标、开标、评标和中标的基本程序和法律责任。",
            "Which projects must be tendered, and the basic procedure of tendering, bidding, opening, "
            "evaluation and award, with the liabilities for breaking it.",
            "工程招标项目按其程序运行：招标公告公开发布，投标截止时间即开标时间，评标由依法组建的评标委员会进行。",
            "Works tenders follow its procedure: the notice is published, the bid deadline is the opening time, "
            "and a lawfully formed committee evaluates.",
        ),
        Policy(
            "procurement-law", "《中华人民共和国政府采购法》", "Government Procurement Law of the People's Republic of China",
            "规范各级国家机关、事业单位和团体组织使用财政性资金采购货物、工程和服务的行为。",
            "How state bodies, public institutions and organisations buy goods, works and services with "
            "public funds.",
            "平台支持公开招标、邀请招标、竞争性谈判、竞争性磋商、询价和单一来源等采购方式，采购信息在本平台公开。",
            "The platform runs open and invited tenders, competitive negotiation, competitive consultation, "
            "requests for quotations and single-source procurement, and publishes their information here.",
        ),
    )),
    PolicyGroup("regulations", "行政法规", "Regulations", (
        Policy(
            "bidding-regulation", "《中华人民共和国招标投标法实施条例》",
            "Regulation on the Implementation of the Bidding Law",
            "细化招标投标法的各项程序；第三十二条列举以不合理条件限制、排斥潜在投标人的情形，第四十条列举视为串通投标的情形。",
            "Details the Bidding Law's procedures; Article 32 lists the forms of excluding bidders by "
            "unreasonable conditions, Article 40 the circumstances deemed collusion.",
            "招标条件在发布前按第三十二条筛查；评标中的串标迹象提示监管人员核查。",
            "Tender terms are screened against Article 32 before publication; signs of collusion in "
            "evaluation are flagged to the supervisors.",
        ),
        Policy(
            "procurement-regulation", "《中华人民共和国政府采购法实施条例》",
            "Regulation on the Implementation of the Government Procurement Law",
            "细化政府采购程序；第二十条列举以不合理条件对供应商实行差别待遇或者歧视待遇的情形。",
            "Details the procurement procedure; Article 20 lists the forms of treating suppliers unequally "
            "by unreasonable conditions.",
            "政府采购项目的采购文件同样在发布前筛查。",
            "Procurement documents are screened the same way before publication.",
        ),
        Policy(
            "fair-competition", "《公平竞争审查条例》", "Regulation on Fair Competition Review",
            "要求涉及经营者经济活动的政策措施不得含有排除、限制竞争的内容。",
            "Measures that affect businesses must not contain anything that excludes or restricts competition.",
            "招标条款不得指定品牌、专利、产地或供应商，不得以特定地区或行业的业绩、奖项作为加分或条件；平台保留放行理由。",
            "Tender terms may not name a brand, patent, origin or supplier, nor score the performance or "
            "awards of a particular region or industry; the platform keeps the justification of any term it lets through.",
        ),
    )),
    PolicyGroup("rules", "部门规章和规范性文件", "Ministerial rules", (
        Policy(
            "e-bidding", "《电子招标投标办法》", "Measures for Electronic Bidding",
            "规定电子招标投标交易平台的功能和安全要求：投标文件加密提交、截止前任何人不得解密、网上开标、全过程留痕。",
            "What an electronic bidding platform must do and keep safe: bids submitted encrypted, no one "
            "able to decrypt before the deadline, opening online, every step on record.",
            "投标文件在投标人自己的电脑上加密签名；开标时由投标人在规定时间内解密；每一次状态变化都记入防篡改的审计日志。",
            "Bids are encrypted and signed on the bidder's own computer and decrypted by the bidder within "
            "the window at opening; every change of state goes into the tamper-evident audit log.",
        ),
        Policy(
            "complaints", "《工程建设项目招标投标活动投诉处理办法》",
            "Measures for Handling Complaints about Tendering for Construction Projects",
            "投标人或利害关系人自知道或者应当知道之日起 10 日内可以向行政监督部门投诉，监督部门应在 30 个工作日内作出处理决定。",
            "A bidder or interested party may complain to the supervising department within 10 days of "
            "knowing; the department decides within 30 working days and may suspend the procedure meanwhile.",
            "异议先向招标人提出；投诉处理决定在本平台公开。",
            "Objections go to the tenderee first; complaint decisions are published here.",
        ),
        Policy(
            "credit-repair", "《信用修复管理办法》", "Measures for Credit Repair",
            "规定失信信息的公示期限和信用修复程序（2026 年 4 月 1 日起施行）。",
            "Sets how long records of violations stay public and how a subject repairs its credit "
            "(in force from 1 April 2026).",
            "轻微失信不公示；一般失信公示 3 个月至 1 年，严重失信 1 至 3 年；期满自动撤下，修复获批的提前结束公示。",
            "Minor records are not published; general ones stay public 3 months to 1 year, serious ones "
            "1 to 3 years; they leave public view at the end, or early after an approved repair.",
        ),
    )),
    PolicyGroup("standards", "标准", "Standards", (
        Policy(
            "credit-code", "GB 32100-2015《法人和其他组织统一社会信用代码编码规则》",
            "GB 32100-2015 Unified social credit code",
            "18 位统一社会信用代码的编码规则和校验位算法。",
            "The 18-character unified social credit code and its check character.",
            "单位以统一社会信用代码识别，校验位不符的代码会被拒绝并说明原因。",
            "Organisations are identified by the code; a code whose check character is wrong is refused, "
            "with a message saying so.",
        ),
        Policy(
            "ocds", "开放合同数据标准（OCDS）1.1", "Open Contracting Data Standard (OCDS) 1.1",
            "国际通行的招标采购信息公开数据格式。",
            "The international data format for publishing procurement information.",
            "所有公开信息同时以 OCDS 1.1 发布，任何人可以下载核对。",
            "Everything public is also published as OCDS 1.1 releases that anyone can download and check.",
        ),
    )),
)  # fmt: skip


@dataclass(frozen=True)
class GuideStep:
    key: str
    zh: str
    en: str
    points: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str, str], ...] = ()  # (href, zh, en): only pages that exist


GUIDE: tuple[GuideStep, ...] = (
    GuideStep("register", "注册", "Register", (
        ("投标单位用本单位的 CA 签名证书注册一次，即可参加平台上的所有项目；平台从证书读取统一社会信用代码。",
         "A bidding company registers once, with its own CA signing certificate, and may then take part in "
         "any tender; the platform reads its unified social credit code from the certificate."),
        ("招标人和招标代理机构的账号由交易中心在进场备案后开通，登录使用密码和动态口令（TOTP）。",
         "Tenderees and agencies get their accounts from the centre after registering with it, and sign "
         "in with a password and a one-time code (TOTP)."),
    ), (("/register", "投标人注册", "Bidder registration"),)),
    GuideStep("certificate", "办理 CA 数字证书", "Get a CA certificate", (
        ("向平台信任列表中的任一 CA 机构申请单位签名证书（互认证书在各平台通用）。",
         "Apply for a company signing certificate to any CA the platform trusts (mutually recognised "
         "certificates work on every platform of the region)."),
        ("证书用于登录、签署投标文件和确认开标记录；私钥保存在单位的证书介质（UKey）中，不离开您的电脑。",
         "The certificate signs you in, signs your bids and confirms the opening record; its private key "
         "stays in your company's token (UKey) and never leaves your computer."),
    ), (("/login/certificate", "CA 证书登录", "Certificate sign-in"),)),
    GuideStep("documents", "下载招标文件", "Download the tender documents", (
        ("在“交易公告”中找到项目，打开项目页面阅读招标公告。",
         "Find the tender under Notices and read its notice on the tender's page."),
        ("用 CA 证书登录后下载招标文件；下载记录在开标前对招标人保密。变更和澄清会通知已下载的单位。",
         "Sign in with your certificate to download the documents; who downloaded stays hidden from the "
         "tenderee until opening. Amendments and clarifications are sent to every company that downloaded."),
        ("对招标文件有疑问，可在项目页面提问；答复在澄清栏公开，不显示提问单位。",
         "Ask questions on the tender's page; answers are published under clarifications without naming who asked."),
    ), (("/tenders", "查看招标公告", "See the tender notices"),)),
    GuideStep("bid", "提交投标文件", "Submit a bid", (
        ("投标文件在本单位电脑上用平台的投标工具加密并用 CA 证书签名后上传；平台拒收未加密、未签名或证书无效的文件。",
         "Encrypt your bid with the platform's sealing tool on your own computer and sign it with your CA "
         "certificate before uploading; the platform refuses a bid that is not encrypted or signed, or whose certificate is not valid."),
        ("投标截止时间前可以撤回或重新提交；截止后不再接收。提交后保存平台出具的回执。",
         "You may withdraw or resubmit until the deadline; nothing is accepted after it. Keep the receipt the platform gives you."),
    )),
    GuideStep("opening", "参加开标", "Attend the opening", (
        ("开标在网上进行（不见面开标），投标人无需到场。",
         "The opening takes place online: bidders need not come to the centre."),
        ("开标开始后，投标人须在规定的解密时间内（默认 30 分钟）用 CA 证书解密本单位的投标文件，并确认开标记录；对开标有异议的，应在开标现场规定时间内（默认 5 分钟）提出。",
         "When the opening starts, decrypt your bid with your CA certificate within the decryption window "
         "(30 minutes by default) and confirm the opening record; an objection to the opening must be raised "
         "within its window (5 minutes by default)."),
    )),
    GuideStep("objections", "异议和投诉", "Objections and complaints", (
        ("对招标文件、开标或评标结果有异议的，先在法定期限内向招标人提出。",
         "An objection to the documents, the opening or the evaluation result goes to the tenderee first, within the legal time limit."),
        ("对异议答复不满意或认为权益受损的，可自知道或者应当知道之日起 10 日内向行政监督部门投诉；监督部门在 30 个工作日内作出决定，决定在本平台公开。",
         "If the answer does not satisfy you, complain to the supervising department within 10 days of "
         "knowing; it decides within 30 working days and the decision is published here."),
    ), (("/policies#policy-complaints", "投诉处理办法", "Complaint rules"),)),
)  # fmt: skip


add_nav("/", "首页", "Home", order=NavOrder.HOME)
add_nav("/policies", "政策法规", "Laws and rules", order=NavOrder.POLICIES)
add_nav("/guide", "服务指南", "Service guide", order=NavOrder.GUIDE)


@get("/policies", include_in_schema=False)
async def policies_page(request: Request[Any, Any, Any]) -> Template:
    return render(request, "portal/policies.html", policies=POLICIES)


@get("/guide", include_in_schema=False)
async def guide_page(request: Request[Any, Any, Any]) -> Template:
    return render(request, "portal/guide.html", steps=GUIDE)


ROUTES = [policies_page, guide_page]
