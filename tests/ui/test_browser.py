"""The dashboard driven in a real headless Chromium (Debian's /usr/bin/chromium, through
Playwright; no browser is downloaded). Every page is screenshotted to
``tests/ui/screenshots/`` (git-ignored, kept after the run).

Expected values are the scenario's own times and numbers (tests/ui/scenario.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import LiveServer, make_token
from tests.factories import MIN, visit
from tests.ui import scenario
from tests.ui.conftest import scenario_server

CHROMIUM = Path(os.environ.get("RTK_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SESSIONS = f"/ui/apps/{scenario.APP}/sessions"
SESSION = f"{SESSIONS}/{scenario.SESSION}"

if not CHROMIUM.exists():
    reason = f"no Chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)"
    if os.environ.get("RTK_TEST_REQUIRE_BROWSER"):
        raise RuntimeError(reason + "; RTK_TEST_REQUIRE_BROWSER is set")
    pytest.skip(reason, allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """SQLite only: the pages' reads run on both databases in test_pages.py."""
    with scenario_server("sqlite", tmp_path_factory.mktemp("browser"), ui_refresh_seconds=1) as s:
        yield s


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Visit:
    """One browser context (its own cookies) on the server, refusing any request that
    would leave 127.0.0.1 and remembering it."""

    def __init__(self, browser, server: LiveServer, **context) -> None:  # type: ignore[no-untyped-def]
        self.server = server
        self.context = browser.new_context(base_url=server.url, accept_downloads=True, **context)
        self.outside: list[str] = []
        self.context.route("**/*", self._only_ours)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _only_ours(self, route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def sign_in(self, token: str | None = None) -> None:
        self.page.goto("/ui/")
        assert self.page.url.endswith("/ui/sign-in")
        self.page.get_by_label("API token").fill(token or self.server.token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"**{SESSIONS}")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def close(self) -> None:
        assert self.outside == [], f"requests left the server: {self.outside}"
        assert self.errors == [], f"script errors: {self.errors}"
        self.context.close()


@pytest.fixture
def visit_(chromium, server: LiveServer) -> Iterator[Visit]:
    visit_ = Visit(chromium, server, viewport={"width": 1280, "height": 900})
    yield visit_
    visit_.close()


def fraction(page, locator) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(left, width) of a timeline bar as fractions of its lane's track, measured on screen."""
    bar = locator.bounding_box()
    track = locator.locator("xpath=..").bounding_box()
    return (bar["x"] - track["x"]) / track["width"], bar["width"] / track["width"]


def test_sign_in_filter_and_the_timeline_matches_the_joins_and_leaves(visit_: Visit) -> None:
    page = visit_.page
    visit_.sign_in()
    visit_.shot("sessions")
    page.get_by_label("Search").fill("weekly")
    page.get_by_label("Status").select_option("ENDED")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("#session-rows tr")
    assert rows.count() == 1 and "Weekly sync" in rows.first.inner_text()
    rows.first.get_by_role("link").click()
    page.wait_for_url(f"**{SESSION}")
    visit_.shot("session")
    main = page.locator(".gantt").first
    span = scenario.END - scenario.START  # the main timeline runs from the start to the end
    for peer, _, _, joined, left, session in scenario.STAYS:
        if session != scenario.SESSION:
            continue
        bar = main.locator(f'.bar[data-peer-id="{peer}"]')
        at, width = fraction(page, bar)
        assert at == pytest.approx((joined - scenario.START) / span, abs=0.005), peer
        assert width == pytest.approx((left - joined) / span, abs=0.005), peer
    ada = main.locator('.lane[data-lane="u-ada"] .bar')
    assert ada.count() == 2  # a rejoin on the same line
    room = page.locator(".room .gantt")
    at, width = fraction(page, room.locator('.bar[data-peer-id="p-cy"]'))
    assert (at, width) == (pytest.approx(0, abs=0.005), pytest.approx(1, abs=0.005))


def test_a_peer_page_has_its_mos_chart_and_explains_the_loss(visit_: Visit) -> None:
    page = visit_.page
    visit_.sign_in()
    page.goto(SESSION)
    page.locator('.gantt .bar[data-peer-id="p-bo"]').first.click()
    page.wait_for_url("**/peers/p-bo")
    visit_.shot("peer")
    mos = page.locator('figure[data-chart="MOS (quality score, 0–1)"]').first
    assert mos.is_visible()
    assert mos.locator("polyline.series").count() >= 1
    assert mos.locator("rect.band").count() == 1  # the lossy stretch, shaded
    assert "Microphone, sent" in page.locator("#quality-heading ~ section h3").first.inner_text()
    problem = page.locator('.problems li[data-cause="loss"]')
    assert (
        "10:07:36" in problem.inner_text() and "10.0% of the packets sent" in problem.inner_text()
    )


def test_download_the_chat_csv(visit_: Visit) -> None:
    page = visit_.page
    visit_.sign_in()
    page.goto(SESSION)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").first.click()
    saved = Path(download.value.path()).read_text()
    header = saved.splitlines()[0]
    assert header.startswith("id,participantId,sessionId")
    assert "Hello Ada" in saved and "'=SUM(1,1) is two" in saved


def test_queue_a_summary_and_see_it_appear(visit_: Visit) -> None:
    page = visit_.page
    visit_.sign_in()
    page.goto(SESSION)
    page.get_by_role("button", name="Generate a summary").click()
    page.wait_for_url(f"**{SESSION}#summary")
    done = page.locator("[data-summary-done]")
    done.wait_for(timeout=30_000)  # the job worker makes it; the page polls until then
    assert "launch" in done.inner_text()
    visit_.shot("session-summary")


def test_live_rows_are_marked_and_refresh_themselves(visit_: Visit, server: LiveServer) -> None:
    page = visit_.page
    visit_.sign_in()
    page.goto(f"{SESSIONS}?status=LIVE")
    row = page.locator(f'tr[data-session-id="{scenario.LIVE}"]')
    assert row.locator(".badge.live").inner_text() == "Live"
    assert row.locator("td").nth(4).inner_text() == "1"
    joined = visit(scenario.LIVE, "p-eli", scenario.NOW - MIN, None, user_id="u-eli")
    assert server.ingest(joined, scenario.ACCOUNT, scenario.APP).status_code == 200
    # RTK_UI_REFRESH_SECONDS is 1 here; the page is not reloaded
    sync_api.expect(row.locator("td").nth(4)).to_have_text("2", timeout=10_000)


def test_sign_out_and_another_accounts_session_is_refused(visit_: Visit) -> None:
    page = visit_.page
    visit_.sign_in()
    answer = page.goto(f"/ui/apps/{scenario.OTHER_APP}/sessions/{scenario.OTHER_SESSION}")
    assert answer.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert "Secret" not in page.content()
    answer = page.goto(f"/ui/apps/{scenario.APP}/sessions/{scenario.OTHER_SESSION}")
    assert answer.status == 404
    page.goto(SESSIONS)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/sign-in")
    assert page.context.cookies() == []
    page.goto(SESSION)
    assert urlsplit(page.url).path == "/ui/sign-in"  # signed out: back to the form


def test_an_apps_limited_token_sees_a_refusal(chromium, server: LiveServer) -> None:
    visit_ = Visit(chromium, server)
    token = make_token(server.db, scenario.ACCOUNT, apps=["not-this-one"], scopes=("read",))
    visit_.page.goto("/ui/sign-in")
    visit_.page.get_by_label("API token").fill(token)
    visit_.page.get_by_role("button", name="Sign in").click()
    answer = visit_.page.goto(SESSIONS)
    assert answer.status == 403 and "may not read app ui-app" in visit_.page.content()
    visit_.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_readable_at_375_pixels_in_light_and_dark(chromium, server: LiveServer, scheme) -> None:
    visit_ = Visit(chromium, server, viewport={"width": 375, "height": 812}, color_scheme=scheme)
    visit_.sign_in()
    backgrounds = set()
    for name, path in (
        ("sessions", SESSIONS),
        ("session", SESSION),
        ("peer", f"/ui/apps/{scenario.APP}/peers/p-bo"),
    ):
        visit_.page.goto(path)
        width = visit_.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{name} is {width} px wide at 375"
        backgrounds.add(visit_.page.evaluate("getComputedStyle(document.body).backgroundColor"))
        visit_.shot(f"{name}-375-{scheme}")
    (background,) = backgrounds
    assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(13, 17, 23)")
    visit_.close()


def test_keyboard_focus_is_visible_and_every_control_is_labelled(visit_: Visit) -> None:
    page = visit_.page
    visit_.sign_in()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select, button')]
             .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                           && !el.textContent.trim())
             .map(el => el.outerHTML)"""
    )
    assert unlabelled == []
    # a timeline bar is reachable by keyboard and named for screen readers
    page.goto(SESSION)
    bar = page.locator('.bar[data-peer-id="p-bo"]')
    bar.focus()
    assert page.evaluate("document.activeElement.dataset.peerId") == "p-bo"
    assert bar.get_attribute("aria-label").startswith("Bo Diddley: joined 10:05:00, left 10:30:00")


def test_the_api_docs_render_without_internet(visit_: Visit) -> None:
    page = visit_.page
    page.goto("/docs")
    page.get_by_text("served from your own data").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Open Group - Sessions").first.click()
    page.get_by_text("Fetch all sessions of an App").first.wait_for(timeout=10_000)
    visit_.shot("docs")
