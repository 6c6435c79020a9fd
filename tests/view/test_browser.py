"""The viewer in a real browser: Debian's chromium, headless, driven by Playwright (no browser download)."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def served(demo):
    """The viewer on a free local port, in a thread of this process."""
    import uvicorn

    from salam.view.app import ViewConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ViewConfig(logs=demo["runs"], memory=str(demo["memory"]))),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page():
    if CHROMIUM is None:
        pytest.skip("no chromium: .ci/run installs it with apt-get")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        tab = browser.new_page()
        yield tab
        browser.close()


def test_runs_a_run_flipped_samples_and_one_sample(served, page):
    page.goto(f"{served}/runs")
    page.click("text=demo")
    assert page.locator("#summary").is_visible() and "feedback" in page.inner_text("#summary")
    before = page.locator("#samples tr[data-href]").count()
    page.check("#flipped")
    page.click("#apply")
    page.wait_for_url("**flipped=1**")
    flipped = page.locator("#samples tr[data-href]")
    assert 0 < flipped.count() < before
    assert all("flipped" in flipped.nth(i).inner_text() for i in range(flipped.count()))
    flipped.first.locator("td").nth(2).click()  # a click on the row opens the sample
    page.wait_for_url("**/sample/**")
    assert "Question:" in page.inner_text("main")


def test_search_open_delete_and_the_count_drops(served, page):
    page.goto(f"{served}/memory")
    assert page.inner_text("#memory-total") == "3"
    page.fill("#q", "apples")
    page.click("#search")
    assert page.inner_text("#record-count") == "1"
    page.select_option("#mode", "semantic")
    page.click("#search")
    assert "apples and pears" in page.inner_text("#records")
    page.click("#records a")
    assert "apples and pears at the market" in page.inner_text("#question")
    page.click("#delete")
    page.click("#confirm")
    page.wait_for_url("**/memory?notice=**")
    assert page.inner_text("#memory-total") == "2" and "deleted 1 record" in page.inner_text("#notice")


def test_a_record_with_script_renders_as_text(served, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{served}/memory?q=who+paid")
    page.click("#records a")
    assert "<script>alert('x')</script>" in page.inner_text("#question")
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#guideline")
    assert page.locator("main script, main img").count() == 0 and dialogs == []
