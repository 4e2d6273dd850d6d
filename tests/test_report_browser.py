"""The HTML report in a real browser (headless Chromium): drawn, offline, escaped.

Chromium comes from Debian's ``chromium`` package (installed here when missing and running as
root) and is driven by the ``playwright`` package; ``playwright install`` is never run.
Set ``CUSTSEG_SEGMENTS_SCREENSHOT=path.png`` to also save a picture of the Segments section there
(for the documentation).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from custseg.features import default_as_of
from custseg.ingest import load
from custseg.report import build_report
from report_inputs import MARKUP_CATEGORY, XSS_CATEGORY, XSS_CITY, hostile_copy, small_model, small_stability

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SECTIONS = ("data", "segments", "stability")


def _install_chromium() -> str | None:
    """Install Debian's chromium package; the reason it could not be, or None."""
    if os.geteuid() != 0:
        return "not root, cannot apt-get install chromium"
    try:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(cmd, check=True, capture_output=True, timeout=600,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"apt-get install chromium failed: {exc}"
    return None if CHROMIUM.exists() else "chromium still missing after apt-get install"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        reason = _install_chromium()
        if reason:
            pytest.skip(f"headless Chromium unavailable: {reason}")
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium unavailable: {CHROMIUM} missing and no apt-get")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Visit:
    """A page opened on a report file, with everything the page tried and said recorded."""

    def __init__(self, browser, path: Path, width: int = 1400, height: int = 1000):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.foreign_requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            self.foreign_requests.append(url)
            route.abort()

    def hover_first_bar(self, chart_id: str) -> str:
        """Point at the first bar of a chart; the text of the hover label Plotly then draws."""
        bar = self.page.locator(f"#{chart_id} .bars path").first
        bar.scroll_into_view_if_needed()
        box = bar.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        label = self.page.locator(f"#{chart_id} .hoverlayer .hovertext")
        label.wait_for(timeout=5_000)
        return label.text_content()

    def drawn(self) -> list[bool]:
        """Per chart, in page order, whether Plotly has drawn it."""
        return self.page.evaluate("[...document.querySelectorAll('.plot')].map(d => !!d.querySelector('.main-svg'))")

    def wait_for_charts(self) -> None:
        """Scroll to each chart in turn (charts are drawn as they come into view) until it is drawn."""
        plots = self.page.locator(".plot")
        for i in range(plots.count()):
            plots.nth(i).scroll_into_view_if_needed()
            plots.nth(i).locator(".main-svg").first.wait_for(timeout=10_000)


@pytest.fixture(scope="module")
def report(synth_dir, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser_report")
    model = small_model(synth_dir, tmp / "model.json", default_as_of(load(synth_dir)).isoformat())
    stability = small_stability(synth_dir, tmp / "stability.json")
    return build_report(synth_dir, tmp / "report.html", model=model, stability=stability)


def test_report_draws_every_chart_offline_without_errors(browser, report, tmp_path):
    visit = Visit(browser, report)
    visit.wait_for_charts()
    page = visit.page
    charts = page.locator(".plot")
    assert charts.count() >= 19
    for i in range(charts.count()):
        assert charts.nth(i).locator(".main-svg").count() >= 1, f"chart {charts.nth(i).get_attribute('id')} not drawn"
    for section in SECTIONS:
        assert page.locator(f"section#{section}").is_visible()
        assert page.locator(f"nav.toc a[href='#{section}']").count() == 1
    assert page.locator(".card").count() >= 2
    assert visit.hover_first_bar("fig-data-categories")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 0
    target = os.environ.get("CUSTSEG_SEGMENTS_SCREENSHOT")
    if target:
        page.locator("section#segments").screenshot(path=target)
    assert visit.errors == []
    assert visit.foreign_requests == []
    assert visit.dialogs == []
    page.close()


def test_summary_is_the_first_screen_and_charts_wait_until_scrolled_to(browser, report):
    visit = Visit(browser, report, 1400, 900)
    page = visit.page
    for part in ("#summary .lead", "#summary table"):
        box = page.locator(part).bounding_box()
        assert box["y"] + box["height"] <= 900, f"{part} is below the first screen"
    assert "Re-train by" in page.locator("#summary .lead").inner_text() or "Stable" in page.locator(
        "#summary .lead").inner_text()
    rows = page.locator("#summary tbody tr")
    assert rows.count() >= 2
    before = visit.drawn()
    assert not before[-1], "a chart far below the first screen was drawn before it was scrolled to"
    visit.wait_for_charts()
    assert all(visit.drawn())
    assert visit.errors == []
    page.close()


def test_phone_width_has_no_horizontal_overflow(browser, report):
    visit = Visit(browser, report, 390, 844)
    page = visit.page
    visit.wait_for_charts()  # drawn charts must fit too
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # wide tables scroll inside their own box instead
    for wrap in page.locator(".table-wrap").all():
        assert wrap.bounding_box()["width"] <= 390
    assert visit.errors == []
    page.close()


def test_hostile_strings_show_as_text_and_never_run(browser, synth_dir, tmp_path):
    data = hostile_copy(synth_dir, tmp_path / "data")
    model = small_model(data, tmp_path / "model.json", default_as_of(load(data)).isoformat())
    path = build_report(data, tmp_path / "report.html", model=model)
    visit = Visit(browser, path)
    visit.wait_for_charts()
    page = visit.page
    assert XSS_CITY in page.locator("#data-states").inner_text()
    labels = page.locator("#fig-data-categories").text_content()
    assert XSS_CATEGORY in labels and MARKUP_CATEGORY in labels
    assert XSS_CATEGORY in visit.hover_first_bar("fig-data-categories")
    assert page.locator("img").count() == 0
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    assert visit.dialogs == []
    assert visit.errors == []
    assert visit.foreign_requests == []
    page.close()
