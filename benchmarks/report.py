"""Benchmark: how fast the report's first screen and all of its charts appear in Chromium.

Opens a report (by default the one ``custseg run`` writes for the real Olist export; ``--run``
makes it first) in headless Chromium (Debian's ``chromium``, driven by playwright) at 1400x900,
``--repeat`` times, and prints medians of:

* **first screen**: the first contentful paint (the header and the summary; Plotly's JavaScript
  comes after them in the page);
* **summary**: the time the summary is painted (Element Timing of its first line);
* **all charts (scrolled)**: the page as a reader uses it, each chart scrolled to in turn until
  the last one is drawn (charts are drawn as they come into view);
* **baseline, all charts at once**: the same page with every chart drawn at load, as the page did
  before (the time the last one is drawn).

Targets (2 cores): first screen under 1.5 s, everything under 4 s. On a shared machine, compare
the ratios more than the seconds.

Run: ``.venv/bin/python benchmarks/report.py [--report out/report.html | --run DATA] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
OLIST = Path(__file__).resolve().parents[2] / "shared" / "olist"
TARGETS = {"first screen": 1.5, "all charts (scrolled)": 4.0}

_FIRST_PAINT = "(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime / 1000"
# the summary's paint, from the page's own Element Timing entry (its intro has elementtiming="summary")
_SUMMARY_PAINT = """() => new Promise(done => new PerformanceObserver(list => {
    const entry = list.getEntries().find(e => e.identifier === 'summary');
    if (entry) done(entry.renderTime / 1000);
}).observe({type: 'element', buffered: true}))"""
# a reader scrolling down: each chart brought into view as soon as the one before it is drawn
_SCROLLED = """async () => {
    const drawn = d => new Promise(ok => { const f = () => d.querySelector('.main-svg') ? ok() : requestAnimationFrame(f); f(); });
    for (const div of document.querySelectorAll('.plot')) { div.scrollIntoView(); await drawn(div); }
    return performance.now() / 1000;
}"""
_ALL_AT_ONCE = """() => new Promise(done => {
    document.querySelectorAll('.plot').forEach(custsegDraw);
    const check = () => [...document.querySelectorAll('.plot')].every(d => d.querySelector('.main-svg'))
        ? done(performance.now() / 1000) : requestAnimationFrame(check);
    check();
})"""


def one_visit(browser, url: str, eager: bool) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url, wait_until="load")
    figures = {"first screen": page.evaluate(_FIRST_PAINT), "summary": page.evaluate(_SUMMARY_PAINT)}
    if eager:
        figures["baseline, all charts at once"] = page.evaluate(_ALL_AT_ONCE)
    else:
        figures["all charts (scrolled)"] = page.evaluate(_SCROLLED)
        figures["charts"] = page.locator(".plot").count()
    page.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", type=Path, help="A report.html to open.")
    parser.add_argument("--run", type=Path, default=OLIST, help="DATA to run custseg on when --report is not given.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    report = args.report
    if report is None:
        out = Path(tempfile.mkdtemp(prefix="custseg-report-bench-"))
        subprocess.run([sys.executable, "-m", "custseg", "--quiet", "run", str(args.run), "-o", str(out)], check=True)
        report = out / "report.html"
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(args.repeat):
            for eager in (False, True):  # interleaved: other load on the machine hits both alike
                for name, value in one_visit(browser, report.resolve().as_uri(), eager).items():
                    runs.setdefault(name, []).append(value)
        browser.close()
    print(f"{report} ({report.stat().st_size / 1e6:.1f} MB, {int(runs.pop('charts')[0])} charts), "
          f"Chromium 1400x900, median of {args.repeat}:")
    base = statistics.median(runs["baseline, all charts at once"])
    for name, values in runs.items():
        median = statistics.median(values)
        target = f"  (target < {TARGETS[name]} s)" if name in TARGETS else ""
        print(f"  {name:<30} {median:6.2f} s  {median / base:5.2f}x the baseline{target}")


if __name__ == "__main__":
    main()
