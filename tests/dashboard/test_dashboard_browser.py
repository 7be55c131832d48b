"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright against
``python -m agent_cache.dashboard`` running the demo workload.

Asserts what a person would check by eye: the figures appear and then change, a herd click
raises the coalesced count by N-1, a session's waterfall opens with its loop marked, the
playground shows one loader run for N concurrent calls, and the page loads nothing from
outside (it must work offline). Screenshots go to docs/ (README shows them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_support import REPO, DashboardProcess, chromium_path, in_ci

DOCS = REPO / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(dashboard_process: DashboardProcess) -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if in_ci():
            pytest.fail("playwright is not installed (it is in the dev extra)")
        pytest.skip("playwright is not installed")
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1500})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda request: requested.append(request.url))
        page.goto(dashboard_process.url)
        page.requested = requested  # type: ignore[attr-defined]
        yield page
        browser.close()


def number(text: str) -> float:
    found = re.search(r"-?\d+(\.\d+)?", text.replace(",", ""))
    assert found, f"no number in {text!r}"
    return float(found.group())


def figure(page: Any, test_id: str) -> str:
    return page.get_by_test_id(test_id).inner_text()


def wait_samples(page: Any, at_least: int) -> None:
    page.wait_for_function(f"Number(document.body.dataset.samples || 0) >= {at_least}")


def test_figures_appear_and_change(page: Any, dashboard_process: DashboardProcess) -> None:
    page.get_by_test_id("connection").filter(has_text="live").wait_for()
    wait_samples(page, 2)
    first = {tid: figure(page, tid) for tid in ("fig-avoided", "fig-db", "fig-hit-ratio", "fig-rps")}
    assert all(value != "\N{EN DASH}" for value in first.values()), first  # the page's "no value yet"
    page.wait_for_function(
        "t => document.querySelector('[data-testid=fig-avoided]').textContent !== t", arg=first["fig-avoided"])
    assert number(figure(page, "fig-avoided")) > number(first["fig-avoided"])
    with_cache, without = (number(part) for part in figure(page, "fig-db").split("/"))
    assert 0 < with_cache < without  # the cache saves queries on the same traffic
    assert page.locator("#chart-rps canvas").count() == 1  # uPlot drew the chart
    assert "running" in figure(page, "run-state")


def test_herd_click_raises_the_coalesced_count(page: Any) -> None:
    wait_samples(page, 3)
    before = number(figure(page, "fig-coalesced"))
    page.get_by_test_id("herd-n").fill("40")
    page.get_by_test_id("herd").click()
    page.get_by_test_id("herd-result").filter(has_text="coalesced").wait_for()
    assert "1 load, 39 coalesced" in figure(page, "herd-result")
    page.wait_for_function(
        "b => Number(document.querySelector('[data-testid=fig-coalesced]').textContent) >= b + 39", arg=before)
    # the herd opens as a waterfall: one load, the others coalesced onto it
    page.get_by_test_id("wf-summary").filter(has_text="herd").wait_for()
    assert page.locator(".wf-bar.coalesced").count() == 39
    assert page.locator(".wf-bar.miss").count() == 1


def test_a_session_waterfall_opens_with_its_loop_marked(page: Any) -> None:
    # a repeat loop: a short session, so the screenshot stays readable
    row = page.get_by_test_id("session-row").filter(has=page.locator(".badge.loop", has_text="repeat")).first
    row.wait_for()
    row.click()
    page.get_by_test_id("wf-summary").filter(has_text="loop:").wait_for()
    rows = page.get_by_test_id("wf-row")
    assert rows.count() >= 3  # demo.session > invoke_agent > execute_tool ...
    assert page.get_by_test_id("mark-loop").count() >= 1
    names = rows.all_inner_texts()
    assert any(name.startswith("invoke_agent") for name in names)
    assert any(name.startswith("execute_tool") for name in names)
    DOCS.mkdir(exist_ok=True)
    page.get_by_test_id("waterfall").screenshot(path=str(DOCS / "dashboard-waterfall.png"))


def test_playground_coalesces_n_calls_into_one_load(page: Any) -> None:
    page.get_by_test_id("pg-key").fill("browser-key")
    page.get_by_test_id("pg-n").fill("12")
    page.get_by_test_id("pg-herd").click()
    page.get_by_test_id("pg-summary").filter(has_text="herd: 12 call(s)").wait_for()
    assert "loader ran 1 time(s)" in figure(page, "pg-summary")
    page.get_by_test_id("pg-batch-op").click()
    page.get_by_test_id("pg-summary").filter(has_text="batch:").wait_for()
    assert "batches of 12" in figure(page, "pg-summary")


def test_the_page_loads_nothing_from_outside_and_is_photographed(
    page: Any, dashboard_process: DashboardProcess
) -> None:
    outside = [url for url in page.requested if not url.startswith(dashboard_process.url)]
    assert outside == []
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "dashboard.png"), full_page=True)
    assert (DOCS / "dashboard.png").stat().st_size > 10_000
