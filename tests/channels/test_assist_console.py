"""The 12345 agent console in headless Chromium, against a scripted assist API.

The console's files are served by intercepting the browser's requests, with
the channel's real headers (CSP included); nothing listens on a port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from channels.web_assets import CONSOLE_NAME, CONSOLE_TYPES, load_assets
from tests.channels.browser import DESKTOP, PHONE, screenshot_path
from tests.channels.conftest import fulfil_json

ORIGIN = "http://127.0.0.1:18998"
BASE = "/webhooks/assist/"
CONSOLE_URL = f"{ORIGIN}{BASE}"
TOKEN = "agent-dev-token.01"
CALLER_SAYS = "我想开一家200平的火锅店，不卖烟，要办什么证"
# What the API searched for: masked, so not what the page sent.
QUERY = "我想开一家200平的火锅店，不卖烟，电话[手机号]"
HOSTILE_TITLE = '<img src=x onerror="window.__xss=1">食品经营许可<b>证</b>'
SOURCE_URL = "https://zwfw.example.gov.cn/guide/food-licence"


def suggestion(rank: int = 1, **extra) -> dict:
    return {
        "rank": rank,
        "doc_id": f"guide:food-{rank}",
        "title": f"食品经营许可（餐饮服务）{rank}",
        "answer": "申请材料：\n1. 食品经营许可申请书\n2. 营业执照",
        "field": "materials",
        "department": "县级市场监督管理局",
        "source_url": SOURCE_URL,
        "score": 0.8123,
        **extra,
    }


def failure(code: str, message: str) -> dict:
    """The error body every channel failure returns (web_protocol.error_body)."""
    return {"error": {"code": code, "message": message}, "request_id": "r-failed"}


def answer(**extra) -> dict:
    """A v1 suggest answer, as channels.assist_protocol.suggest_body builds it."""
    return {
        "version": "v1",
        "call_id": None,
        "query": QUERY,
        "outcome": "answer",
        "suggestions": [suggestion(1), suggestion(2, field=None, score=0.5)],
        "scenario": None,
        "fields": [],
        "unmasked": False,
        "request_id": "r-suggest",
        **extra,
    }


SCENARIO = {
    "id": "restaurant",
    "name": "开餐馆",
    "locality": "示范市（样例数据）",
    "answers": [
        {"label": "经营场所面积", "value": "200平方米"},
        {"label": "销售卷烟等烟草制品", "value": "否"},
    ],
    "items": [
        {"name": "食品经营许可（餐饮服务）", "department": "县级市场监督管理局"},
        {"name": "城镇污水排入排水管网许可", "department": "县级城市管理局"},
    ],
    "materials": ["营业执照", "经营场所位置示意图"],
    "open_questions": ["卡拉OK、演艺等娱乐功能", "设置户外招牌"],
}
MASKED_FIELDS = [
    {
        "turn": 1,
        "kind": "mobile",
        "label": "手机号",
        "value": "[手机号]",
        "checked": None,
    },
    {
        "turn": 1,
        "kind": "id_number",
        "label": "身份证号",
        "value": "[身份证号]",
        "checked": False,
    },
]


@dataclass
class Sent:
    endpoint: str
    body: dict
    headers: dict[str, str]


@dataclass
class ScriptedAssistApi:
    """Answers the console's POSTs in order: ``(status, body)`` or "abort"."""

    suggest: list = field(default_factory=list)
    feedback: list = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def __call__(self, route, endpoint: str) -> None:
        request = route.request
        self.sent.append(Sent(endpoint, request.post_data_json, request.headers))
        script = self.suggest if endpoint == "suggest" else self.feedback
        default = (
            (200, answer())
            if endpoint == "suggest"
            else (201, {"status": "recorded", "request_id": "r-feedback"})
        )
        action = script.pop(0) if script else default
        if action == "abort":
            route.abort("connectionrefused")
        else:
            fulfil_json(route, *action)

    def bodies(self, endpoint: str) -> list[dict]:
        return [sent.body for sent in self.sent if sent.endpoint == endpoint]


@dataclass
class Console:
    """A browser page showing the console, and what it sent and logged."""

    page: object
    api: ScriptedAssistApi
    foreign_requests: list[str]
    console_errors: list[str]

    def sign_in(self, token: str = TOKEN, call_id: str = "") -> None:
        self.page.get_by_label("坐席令牌").fill(token)
        if call_id:
            self.page.get_by_label("通话编号（选填）").fill(call_id)

    def say(self, text: str, key: str = "Enter") -> None:
        """Type one turn; Enter records the caller, Control+Enter the agent."""
        self.page.get_by_label("这一句的内容").fill(text)
        self.page.get_by_label("这一句的内容").press(key)

    def wait_idle(self) -> None:
        self.page.wait_for_selector("#suggestions-region[aria-busy='false']")

    def suggestions(self):
        return self.page.locator("#suggestions > li")

    def alert(self):
        return self.page.get_by_role("alert")


def _serve(route, assets, api: ScriptedAssistApi) -> None:
    path = urlsplit(route.request.url).path
    if route.request.method == "POST" and path in (
        BASE + "v1/suggest",
        BASE + "v1/feedback",
    ):
        api(route, path.rsplit("/", 1)[-1])
        return
    if path == BASE:
        asset = assets[CONSOLE_NAME]
    elif path.startswith(BASE + "static/") and not path.endswith(CONSOLE_NAME):
        asset = assets.get(path.rsplit("/", 1)[-1])
    else:
        asset = None
    if asset is None:
        route.fulfill(status=404, body="not found")
        return
    route.fulfill(
        status=200,
        headers=asset.headers(),
        content_type=asset.content_type,
        body=asset.body,
    )


def open_console(context, api: ScriptedAssistApi | None = None) -> Console:
    """Open the console in ``context`` with ``api`` answering its POSTs."""
    assets = load_assets(types=CONSOLE_TYPES)
    page = context.new_page()
    console = Console(page, api or ScriptedAssistApi(), [], [])
    page.route("**/*", lambda route: _serve(route, assets, console.api))
    page.on(
        "request",
        lambda request: None
        if request.url.startswith(ORIGIN)
        else console.foreign_requests.append(request.url),
    )
    page.on(
        "console",
        lambda message: console.console_errors.append(message.text)
        if message.type == "error"
        else None,
    )
    page.on("pageerror", lambda error: console.console_errors.append(str(error)))
    page.goto(CONSOLE_URL)
    return console


@pytest.fixture
def desktop(browser):
    context = browser.new_context(
        viewport=DESKTOP,
        locale="zh-CN",
        permissions=["clipboard-read", "clipboard-write"],
    )
    yield context
    context.close()


@pytest.fixture
def console(desktop):
    opened = open_console(desktop)
    yield opened
    assert opened.foreign_requests == []


def test_caller_turn_is_sent_with_the_bearer_token_and_the_turns(console):
    console.sign_in()

    console.say(CALLER_SAYS)
    console.wait_idle()

    [sent] = console.api.sent
    assert sent.endpoint == "suggest"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {
        "turns": [{"role": "caller", "text": CALLER_SAYS}],
        "unmasked": False,
    }
    expect(console.page.locator("#turns > li")).to_have_text([f"来电人{CALLER_SAYS}"])
    expect(console.page.get_by_label("这一句的内容")).to_have_value("")
    expect(console.page.get_by_label("这一句的内容")).to_be_focused()
    assert console.console_errors == []


def test_ctrl_enter_records_the_agent_and_the_call_id_is_sent(console):
    console.sign_in(call_id="call-2024_0001")
    console.say("孩子出生了要办什么")
    console.wait_idle()

    console.say("请问孩子是哪天出生的？", key="Control+Enter")
    console.wait_idle()

    assert console.api.bodies("suggest")[1] == {
        "call_id": "call-2024_0001",
        "turns": [
            {"role": "caller", "text": "孩子出生了要办什么"},
            {"role": "agent", "text": "请问孩子是哪天出生的？"},
        ],
        "unmasked": False,
    }
    expect(console.page.locator("#turns .turn-role")).to_have_text(["来电人", "坐席"])


def test_agent_button_and_refresh_send_again(console):
    console.sign_in()
    console.say("社保卡丢了怎么补办")
    console.wait_idle()

    console.page.get_by_label("这一句的内容").fill("您在哪个区？")
    console.page.get_by_role("button", name="记为坐席").click()
    console.wait_idle()
    console.page.get_by_role("button", name="刷新建议").click()
    console.wait_idle()

    bodies = console.api.bodies("suggest")
    assert len(bodies) == 3
    assert bodies[1]["turns"][-1] == {"role": "agent", "text": "您在哪个区？"}
    assert bodies[2] == bodies[1]


def test_suggestions_render_as_text_never_parsed(console):
    hostile = suggestion(
        1,
        title=HOSTILE_TITLE,
        answer="<script>window.__xss=2</script>携带身份证",
        department="<i>市场监管局</i>",
    )
    bad_link = suggestion(2, source_url="javascript:alert(1)")
    console.api.suggest.append((200, answer(suggestions=[hostile, bad_link])))
    console.sign_in()

    console.say("开餐馆要什么证")
    console.wait_idle()

    first = console.suggestions().nth(0)
    expect(first.locator("h3")).to_have_text(f"1.{HOSTILE_TITLE}")
    expect(first.locator(".suggestion-answer")).to_have_text(
        "<script>window.__xss=2</script>携带身份证"
    )
    expect(first).to_contain_text("办理部门：<i>市场监管局</i>")
    expect(first).to_contain_text("内容：申请材料")
    expect(first).to_contain_text("匹配度 0.81")
    assert console.page.locator("main img, main script, main b, main i").count() == 0
    assert console.page.evaluate("window.__xss") is None
    link = first.get_by_role("link")
    expect(link).to_have_attribute("href", SOURCE_URL)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(console.suggestions().nth(1).get_by_role("link")).to_have_count(0)
    assert console.console_errors == []


def test_copy_puts_the_answer_and_its_source_on_the_clipboard(console):
    console.sign_in()
    console.say(CALLER_SAYS)
    console.wait_idle()

    first = console.suggestions().nth(0)
    first.get_by_role("button", name="复制").click()

    expect(first.locator(".action-status")).to_have_text("已复制")
    copied = console.page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{suggestion()['answer']}\n来源：{SOURCE_URL}"


def test_copy_selects_the_text_when_the_clipboard_is_unavailable(browser):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.add_init_script(
        "Object.defineProperty(navigator, 'clipboard', {get() { return undefined; }});"
    )
    try:
        console = open_console(context)
        console.sign_in()
        console.say(CALLER_SAYS)
        console.wait_idle()

        first = console.suggestions().nth(0)
        first.get_by_role("button", name="复制").click()

        expect(first.locator(".action-status")).to_have_text("已选中，请按 Ctrl+C 复制")
        selected = console.page.evaluate("window.getSelection().toString()")
        assert suggestion()["answer"] in selected
        assert SOURCE_URL in selected
    finally:
        context.close()


def test_wrong_suggestion_posts_feedback_and_shows_recorded(console):
    console.sign_in(call_id="call-7")
    console.say(CALLER_SAYS)
    console.wait_idle()

    second = console.suggestions().nth(1)
    second.get_by_role("button", name="建议有误").click()

    expect(second.locator(".action-status")).to_have_text("已记录")
    expect(second.get_by_role("button", name="建议有误")).to_be_disabled()
    [sent] = [sent for sent in console.api.sent if sent.endpoint == "feedback"]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.body == {
        "call_id": "call-7",
        "question": QUERY,
        "doc_id": "guide:food-2",
        "score": 0.5,
        "verdict": "wrong",
    }
    assert console.console_errors == []


def test_nothing_fit_posts_missing_without_a_doc_id(console):
    console.sign_in()
    console.say(CALLER_SAYS)
    console.wait_idle()

    console.page.get_by_role("button", name="没有合适的建议").click()

    expect(console.page.locator("#missing-status")).to_have_text("已记录")
    assert console.api.bodies("feedback") == [{"question": QUERY, "verdict": "missing"}]


def test_feedback_that_fails_can_be_sent_again(console):
    console.sign_in()
    console.say(CALLER_SAYS)
    console.wait_idle()
    console.api.feedback.append((503, failure("processing_failed", "x")))

    first = console.suggestions().nth(0)
    first.get_by_role("button", name="建议有误").click()

    expect(first.locator(".action-status")).to_have_text("未记录，请重试")
    expect(console.alert()).to_have_text("服务暂时不可用，请稍后再试。")
    expect(first.get_by_role("button", name="建议有误")).to_be_enabled()


def test_unauthorized_asks_to_reenter_the_token(console):
    console.api.suggest.append(
        (401, failure("unauthorized", "坐席令牌无效，请重新登录。"))
    )
    console.sign_in("expired-token")

    console.say(CALLER_SAYS)
    console.wait_idle()

    expect(console.alert()).to_have_text("坐席令牌无效或已过期，请重新输入坐席令牌。")
    token = console.page.get_by_label("坐席令牌")
    expect(token).to_be_focused()
    expect(token).to_have_attribute("aria-invalid", "true")
    stored = console.page.evaluate("sessionStorage.getItem('zw.assist.token')")
    assert stored is None
    # The turn is kept: a new token and 刷新建议 ask again.
    token.fill(TOKEN)
    console.page.get_by_role("button", name="刷新建议").click()
    console.wait_idle()
    expect(console.alert()).to_be_hidden()
    assert console.api.sent[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert console.api.bodies("suggest")[-1]["turns"][0]["text"] == CALLER_SAYS


FORBIDDEN = "该令牌无权使用坐席辅助。"
TOO_MANY = "turns 应为 1-50 条对话。"


@pytest.mark.parametrize(
    ("action", "shown"),
    [
        ((403, failure("forbidden", FORBIDDEN)), FORBIDDEN),
        ((400, failure("invalid_request", TOO_MANY)), TOO_MANY),
        ((503, failure("x", "Traceback")), "服务暂时不可用，请稍后再试。"),
        ((200, {"not": "an answer"}), "服务暂时不可用，请稍后再试。"),
        ("abort", "网络异常，请重试"),
    ],
)
def test_failures_show_a_chinese_message(console, action, shown):
    console.api.suggest.append(action)
    console.sign_in()

    console.say(CALLER_SAYS)
    console.wait_idle()

    expect(console.alert()).to_have_text(shown)


@pytest.mark.parametrize(
    ("outcome", "note"),
    [
        ("no_answer", "低置信度，请核实"),
        ("unavailable", "知识库暂时不可用"),
        ("clarify", "请向来电人确认"),
    ],
)
def test_outcome_notes(console, outcome, note):
    suggestions = [] if outcome == "unavailable" else [suggestion(1)]
    console.api.suggest.append((200, answer(outcome=outcome, suggestions=suggestions)))
    console.sign_in()

    console.say(CALLER_SAYS)
    console.wait_idle()

    expect(console.page.locator("#outcome")).to_contain_text(note)
    expect(console.suggestions()).to_have_count(len(suggestions))


def test_scenario_checklist_and_masked_fields_render(console):
    console.api.suggest.append((200, answer(scenario=SCENARIO, fields=MASKED_FIELDS)))
    console.sign_in(call_id="call-42")
    console.say("好的，请讲。", key="Control+Enter")
    console.say(CALLER_SAYS + "，电话13800138000")
    console.wait_idle()

    scenario = console.page.locator("#scenario")
    expect(scenario.locator("h3")).to_have_text("开餐馆")
    expect(scenario).to_contain_text("适用地区：示范市（样例数据）")
    expect(scenario.locator("dt")).to_have_text(["经营场所面积", "销售卷烟等烟草制品"])
    expect(scenario.locator("dd")).to_have_text(["200平方米", "否"])
    expect(scenario.locator("h4")).to_have_text(
        ["已了解", "适用事项", "所需材料", "还需询问"]
    )
    expect(scenario.locator("ul").nth(0).locator("li")).to_have_text(
        [
            "食品经营许可（餐饮服务）（县级市场监督管理局）",
            "城镇污水排入排水管网许可（县级城市管理局）",
        ]
    )
    expect(scenario.locator("ul").nth(1).locator("li")).to_have_text(
        ["营业执照", "经营场所位置示意图"]
    )
    expect(scenario.locator(".open-questions li")).to_have_text(
        ["卡拉OK、演艺等娱乐功能", "设置户外招牌"]
    )
    # Field turns count from the first turn sent: the caller spoke second.
    expect(console.page.locator("#fields li")).to_have_text(
        [
            "手机号：[手机号]（已脱敏） · 第2句",
            "身份证号：[身份证号]（已脱敏）（校验码不符，请核实） · 第2句",
        ]
    )
    assert console.console_errors == []
    console.page.screenshot(path=screenshot_path("assist-console.png"), full_page=True)


def test_show_personal_data_is_asked_for_and_marked_when_refused(console):
    console.sign_in()
    console.say(CALLER_SAYS)
    console.wait_idle()
    unmasked = [dict(MASKED_FIELDS[0], turn=0, value="13800138000")]
    console.api.suggest.append((200, answer(fields=unmasked, unmasked=True)))
    console.api.suggest.append((200, answer(fields=MASKED_FIELDS, unmasked=False)))

    console.page.get_by_label("显示完整个人信息").check()
    console.wait_idle()

    assert console.api.bodies("suggest")[1]["unmasked"] is True
    expect(console.page.locator("#fields li")).to_have_text(
        ["手机号：13800138000 · 第1句"]
    )

    console.page.get_by_role("button", name="刷新建议").click()
    console.wait_idle()
    expect(console.page.locator("#fields")).to_contain_text(
        "该令牌无权查看完整个人信息"
    )
    expect(console.page.locator("#fields li").first).to_contain_text("（已脱敏）")


def test_token_is_kept_in_session_storage_only(console):
    console.sign_in()

    storage = console.page.evaluate(
        "[sessionStorage.getItem('zw.assist.token'), localStorage.length]"
    )
    console.page.reload()

    assert storage == [TOKEN, 0]
    expect(console.page.get_by_label("坐席令牌")).to_have_value(TOKEN)
    expect(console.page.get_by_label("坐席令牌")).to_have_attribute("type", "password")


BAD_CALL_ID = "通话编号应为 1-64 位字母、数字、_ 或 -。"


@pytest.mark.parametrize(
    ("token", "call_id", "shown", "field_name"),
    [
        ("", "", "请先输入坐席令牌。", "坐席令牌"),
        ("bad token!", "", "坐席令牌格式不对，请检查后重新输入。", "坐席令牌"),
        (TOKEN, "call 1", BAD_CALL_ID, "通话编号（选填）"),
    ],
)
def test_bad_session_values_are_not_sent(console, token, call_id, shown, field_name):
    console.sign_in(token, call_id)

    console.say(CALLER_SAYS)

    expect(console.alert()).to_have_text(shown)
    expect(console.page.get_by_label(field_name)).to_be_focused()
    expect(console.page.locator("#turns > li")).to_have_count(1)
    assert console.api.sent == []


def test_empty_turn_and_agent_only_call_send_nothing(console):
    console.sign_in()

    console.say("   ")
    expect(console.alert()).to_have_text("请先输入这一句的内容。")
    console.say("您好，12345热线。", key="Control+Enter")

    expect(console.page.locator("#turns > li")).to_have_count(1)
    expect(console.alert()).to_be_hidden()
    assert console.api.sent == []


def test_shift_enter_keeps_a_new_line_in_the_turn(console):
    console.sign_in()
    box = console.page.get_by_label("这一句的内容")

    box.fill("第一行")
    box.press("Shift+Enter")
    box.press("End")
    box.type("第二行")

    expect(box).to_have_value("第一行\n第二行")
    assert console.api.sent == []


def test_clear_call_empties_the_transcript_and_suggestions(console):
    console.sign_in(call_id="call-9")
    console.say(CALLER_SAYS)
    console.wait_idle()
    console.page.once("dialog", lambda dialog: dialog.accept())

    console.page.get_by_role("button", name="清空通话").click()

    expect(console.page.locator("#turns > li")).to_have_count(0)
    expect(console.suggestions()).to_have_count(0)
    expect(console.page.get_by_label("通话编号（选填）")).to_have_value("")
    expect(console.page.get_by_role("button", name="没有合适的建议")).to_be_disabled()
    expect(console.page.get_by_label("坐席令牌")).to_have_value(TOKEN)


def test_console_is_labelled_keyboard_usable_and_self_contained(console):
    page = console.page
    for label in (
        "坐席令牌",
        "通话编号（选填）",
        "显示完整个人信息",
        "这一句的内容",
    ):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    region = page.locator("#suggestions-region")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_text("回车：记为来电人的话")).to_be_visible()

    # The keyboard reaches the token field first, and focus is visible.
    page.keyboard.press("Tab")
    expect(page.get_by_label("坐席令牌")).to_be_focused()
    page.get_by_label("这一句的内容").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.textContent, "
        "getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["记为来电人", "solid"]

    assert console.foreign_requests == []
    assert console.console_errors == []  # no CSP violation, no script error
    assert page.url == CONSOLE_URL


def test_console_fits_a_narrow_screen(browser):
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        console = open_console(context)
        long_link = suggestion(1, source_url=SOURCE_URL + "/" + "a" * 200)
        console.api.suggest.append(
            (200, answer(suggestions=[long_link], scenario=SCENARIO))
        )
        console.sign_in()
        console.say(CALLER_SAYS)
        console.wait_idle()

        widths = console.page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1]
        assert console.foreign_requests == []
    finally:
        context.close()


def test_console_loads_its_files_relatively_under_the_channel_csp(console):
    response = console.page.reload()
    html = load_assets(types=CONSOLE_TYPES)[CONSOLE_NAME].body.decode("utf-8")

    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert 'src="static/assist.js"' in html
    assert 'href="static/assist.css"' in html
    assert "<script>" not in html and "style=" not in html
    expect(console.page.locator("#no-suggestions")).to_be_visible()
    assert console.console_errors == []
