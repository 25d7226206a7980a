"""The offline HTML report (segkit.report), looked at as a person would: rendered in
headless Chromium (Debian's `chromium`, driven over the DevTools protocol on a pipe: no
driver download, no extra Python package), failing on any JavaScript error or any request
that leaves the file, checking that every drawn section's charts drew, with a screenshot
saved under the test's output folder. Plus fast checks on the file itself: offline,
under 10 MB, byte-identical across renders, and sections skipped with a note when their
tables are absent or empty.

The demo warehouse: the session's demo build fixture when conftest.py has one
(`demo_build`), else one full demo build for this module.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dbt_harness import run_dbt
from segkit import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
SECTION_KEYS = [key for key, _, _ in report.SECTIONS]


@pytest.fixture(scope="module")
def demo_db(request, tmp_path_factory) -> Path:
    try:
        result = request.getfixturevalue("demo_build")
    except pytest.FixtureLookupError:
        result = run_dbt(tmp_path_factory.mktemp("report_demo"), vars={"dataset": "demo"})
    assert result.returncode == 0, result.output[-3000:]
    assert result.db_path == result.published_path, "the report reads the published warehouse"
    return result.db_path


@pytest.fixture(scope="module")
def demo_html(demo_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "demo_report.html"
    assert report.main(["--db", str(demo_db), "--out", str(out), "--dataset", "demo"]) == 0
    return out


# ---------------------------------------------------------------- the file itself
def test_report_is_offline_small_and_deterministic(demo_db, demo_html, tmp_path):
    page = demo_html.read_text(encoding="utf-8")
    assert demo_html.stat().st_size < 10_000_000
    # nothing loaded from elsewhere: no external script, stylesheet, frame or image
    assert not re.search(r"<(script|link|iframe|img)\b[^>]*\b(src|href)\s*=", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page, re.I)
    # the map shapes are inline, defined before plotly.js runs (else plotly fetches them from its CDN)
    assert page.index("window.PlotlyGeoAssets = {topojson: {\"world_110m\"") < page.index("plotly.js v")
    again = tmp_path / "again.html"
    assert report.main(["--db", str(demo_db), "--out", str(again), "--dataset", "demo"]) == 0
    assert again.read_bytes() == demo_html.read_bytes()


def test_every_demo_section_is_drawn_with_rounded_figures(demo_db, demo_html):
    page = demo_html.read_text(encoding="utf-8")
    assert "Skipped:" not in page
    for key in SECTION_KEYS:
        assert f'id="section-{key}"' in page and f'id="chart-{key}-0"' in page
    # figures for people: no long floats in the stat boxes or tables
    shown = " ".join(re.findall(r"<(?:dd|td)>([^<]*)</(?:dd|td)>", page))
    assert not re.search(r"\d\.\d{4,}", shown), shown
    # the quoted figures are the warehouse's: rows in per input, ROC AUC, top country
    with duckdb.connect(str(demo_db), read_only=True) as con:
        rows_in = con.execute("select sum(rows_in) from input_reconciliation").fetchone()[0]
        auc = con.execute("select roc_auc from prediction_metrics where model_name = 'churn' and target = 'churn'").fetchone()[0]
    assert f"<dt>rows in</dt><dd>{rows_in:,}</dd>" in page
    assert f"<dt>ROC AUC (held out)</dt><dd>{auc:.2f}</dd>" in page


def test_bgnbd_calibration_is_predicted_vs_actual_in_the_holdout(demo_db):
    """The calibration chart's points, recomputed here from backtest_cutoff_features with the
    closed-form BG/NBD conditional expectation (Fader, Hardie & Lee 2005, eq. 10) and the
    parameters segment_backtest recorded for its last cut-off."""
    from scipy.special import hyp2f1

    with duckdb.connect(str(demo_db), read_only=True) as con:
        cutoff, details = con.execute("select cast(cutoff_date as date), details from segment_backtest "
                                      "where method = 'predicted_purchases' order by cutoff_date desc limit 1").fetchone()
        pop = con.execute("select frequency as x, recency as tx, \"T\", coalesce(next_orders, 0) as actual "
                          "from backtest_cutoff_features where cast(cutoff_date as date) = ? and frequency is not null "
                          "and recency is not null and \"T\" is not null", [cutoff]).df()
        tab, shown_cutoff, horizon, unit = report._calibration(report.Warehouse(con))
    det = json.loads(details)
    r, alpha, a, b = (det["bgnbd_params"][k] for k in ("r", "alpha", "a", "b"))
    t = det["horizon_periods"]
    x, tx, T = pop.x.to_numpy(float), pop.tx.to_numpy(float), pop["T"].to_numpy(float)
    z = t / (alpha + T + t)
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
    pop["predicted"] = num / den
    pop["bucket"] = np.minimum(pop.x, 7).astype(int)
    expected = pop.groupby("bucket").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                         predicted=("predicted", "mean")).reset_index()
    assert shown_cutoff == str(cutoff) and horizon == t and unit == det["time_unit"]
    assert tab.customers.tolist() == expected.customers.tolist() and tab.b.tolist() == expected.bucket.tolist()
    assert np.allclose(tab.actual, expected.actual) and np.allclose(tab.predicted, expected.predicted, rtol=1e-9)
    assert tab.bucket.tolist()[-1] == "7+"


def test_country_names_map_to_the_map_shapes(demo_db):
    """Every demo country is placed on the map by its ISO-3 code, except those too
    small for the 1:110m shapes (checked against the shapes, not assumed)."""
    raw = pd.read_csv(report_path("data/demo/customers.csv")) if report_path("data/demo/customers.csv").exists() else None
    with duckdb.connect(str(demo_db), read_only=True) as con:
        countries = [r[0] for r in con.execute("select distinct country from revenue_by_geography order by 1").fetchall()]
    if raw is not None and "country" in raw.columns:
        assert set(countries) <= set(raw.country.dropna())
    codes = {c: report.iso3(c) for c in countries}
    assert all(codes.values()), codes
    assert codes["United States"] == "USA" and codes["United Kingdom"] == "GBR" and codes["South Korea"] == "KOR"
    shapes = report._map_ids()
    assert {c for c, code in codes.items() if code not in shapes} <= {"Singapore", "Hong Kong", "Malta"}


def report_path(rel: str) -> Path:
    return Path(__file__).resolve().parents[2] / rel


def test_missing_and_empty_tables_skip_their_sections(tmp_path):
    """A warehouse with only some tables (one of them empty): the others are skipped with
    a note, nothing crashes, and what is there is drawn."""
    db = tmp_path / "partial.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table input_reconciliation as select 'customers' as source_table, 10::bigint as rows_in, "
                    "9::bigint as rows_used, 1::bigint as rows_rejected, true as is_reconciled")
        con.execute("create table rejected_rows as select 'customers' as source_table, 'c1' as row_key, "
                    "'missing customer_id' as reason")
        con.execute("create table funnel_steps (step_number integer, event_name varchar, users bigint, dropped_users bigint,"
                    " conversion_from_previous double, conversion_from_start double)")  # empty
        con.execute("create table revenue_by_geography as select * from (values ('Kenya', 3::bigint, 120.5::decimal(18,2)),"
                    " ('Atlantis', 1::bigint, 5.0::decimal(18,2))) t(country, customers, revenue)")
    out = tmp_path / "partial.html"
    assert report.main(["--db", str(db), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    sections = dict(re.findall(r'data-section="(\w+)">(.*?)</section>', page, re.S))
    assert set(sections) == set(SECTION_KEYS)
    for key in ("quality", "geography"):
        assert "Skipped:" not in sections[key] and f'id="chart-{key}-0"' in sections[key]
    assert "missing customer_id" in sections["quality"]
    assert "Atlantis" in sections["geography"]  # named in the note: not placed on the map
    assert "Skipped: no rows in `funnel_steps`." in sections["funnel"]
    assert "not built for this dataset" in sections["rfm"]
    for key in set(SECTION_KEYS) - {"quality", "geography"}:
        assert "Skipped:" in sections[key] and "chart-" not in sections[key], key


def test_roc_curve_of_out_of_fold_scores(tmp_path):
    """Where the churn model published out-of-fold scores of labelled rows (snapshot mode),
    the churn section draws their ROC curve; its AUC is sklearn's on the same rows, and rows
    not scored out of fold (the current customers of a temporal model) are left out."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    n = 400
    y = rng.random(n) < 0.3
    p = np.clip(0.35 * y + rng.random(n) * 0.7, 0, 1).round(2)  # rounded: ties, as real scores have
    oof = np.arange(n) < 300  # the last 100 rows: scores of unlabelled-at-the-time rows, not in the ROC
    frame = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(n)], "churn_probability": p,
                          "risk_band": np.where(p > 0.6, "High", "Low"), "is_scored_out_of_fold": oof,
                          "run_info": "{}", "split": "snapshot", "is_churned_next": y})
    db = tmp_path / "churn.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("f", frame)
        con.execute("create table customer_churn_risk as select customer_id, churn_probability, risk_band, "
                    "is_scored_out_of_fold, run_info from f")
        con.execute("create table churn_model_input as select customer_id, split, is_churned_next from f")
    out = tmp_path / "churn.html"
    assert report.main(["--db", str(db), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    expected = roc_auc_score(y[oof], p[oof])
    assert f"model (AUC {expected:.3f})" in page
    assert "<dt>out-of-fold rows in the ROC</dt><dd>300</dd>" in page
    fpr, tpr, auc = report.roc_points(p[oof], y[oof].astype(int))
    assert auc == pytest.approx(expected, abs=1e-12)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_geography_without_a_known_country_is_skipped(tmp_path):
    """cdnow's customers have no country (one '(unknown)' row): no map of nothing, a note."""
    db = tmp_path / "unknown.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table revenue_by_geography as select '(unknown)' as country, 2357::bigint as customers, "
                    "173115.55::decimal(38,2) as revenue")
    out = tmp_path / "unknown.html"
    assert report.main(["--db", str(db), "--out", str(out)]) == 0
    section = re.search(r'data-section="geography">(.*?)</section>', out.read_text(encoding="utf-8"), re.S).group(1)
    assert "Skipped: no country in `revenue_by_geography` could be placed on the map." in section
    assert "chart-" not in section


def test_cluster_profiles_of_other_features_are_shown(tmp_path):
    """cluster_profiles has a mean_* column per clustering feature, which differ by dataset
    (classplus: mean_total_revenue, mean_revenue_m01, ...): the section shows those, the 2-D
    projection is of cluster_input's numeric columns, and a seeded sample caps the points."""
    rng = np.random.default_rng(3)
    n = report.CLUSTER_SAMPLE_MAX + 500
    ids = [f"K{i:05d}" for i in range(n)]
    inp = pd.DataFrame({"customer_id": ids, "total_revenue": rng.gamma(2, 50, n), "revenue_m01": rng.gamma(1, 5, n),
                        "plan": "x"})
    clusters = pd.DataFrame({"customer_id": ids, "method": "kmeans", "cluster_id": (inp.total_revenue > 100).astype(int),
                             "value_tier": np.where(inp.total_revenue > 100, "High", "Low")})
    prof = (clusters.assign(total_revenue=inp.total_revenue, revenue_m01=inp.revenue_m01)
            .groupby(["method", "cluster_id", "value_tier"], as_index=False)
            .agg(customers=("customer_id", "size"), mean_total_revenue=("total_revenue", "mean"),
                 mean_revenue_m01=("revenue_m01", "mean")))
    db = tmp_path / "clusters.duckdb"
    with duckdb.connect(str(db)) as con:
        for name, frame in (("cluster_input", inp), ("customer_clusters", clusters), ("cluster_profiles", prof)):
            con.register("f", frame)
            con.execute(f"create table {name} as select * from f")
            con.unregister("f")
    out = tmp_path / "clusters.html"
    assert report.main(["--db", str(db), "--out", str(out)]) == 0
    section = re.search(r'data-section="clusters">(.*?)</section>', out.read_text(encoding="utf-8"), re.S).group(1)
    assert "Skipped" not in section and 'id="chart-clusters-0"' in section
    assert "<th>mean_total_revenue</th>" in section and "<th>mean_revenue_m01</th>" in section
    assert f"{report.CLUSTER_SAMPLE_MAX:,} of {n:,} (seeded sample)" in section
    assert "2 standardised features" in section  # the text column is not a feature


# ---------------------------------------------------------------- in a real browser
def _high_fd(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
    commands on fd 3, replies on fd 4, NUL-terminated JSON)."""

    def __init__(self, profile: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # the child's ends above 9, so that putting them on 3 and 4 cannot overwrite one with the other
        to_chrome_r, from_chrome_w = (_high_fd(to_chrome_r), _high_fd(from_chrome_w))

        # bash (dash takes no fd above 9) puts the two pipe ends on fds 3 and 4, where chromium looks for them
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", CHROMIUM, "--headless", "--no-sandbox",
             "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--window-size=1300,900", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._next(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self):
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


CHECK_SECTIONS_JS = """
Array.from(document.querySelectorAll('section.report-section')).map(function (s) {
  var charts = Array.from(s.querySelectorAll('div.chart div[id^="chart-"]'));
  return {key: s.dataset.section, skipped: s.classList.contains('skipped'),
          charts: charts.map(function (c) {
            var marks = c.querySelectorAll('svg.main-svg path, svg.main-svg rect, svg.main-svg image, svg.main-svg text');
            var box = c.getBoundingClientRect();
            return {id: c.id, svgs: c.querySelectorAll('svg').length + c.querySelectorAll('canvas').length,
                    marks: marks.length, drawn: c.classList.contains('js-plotly-plot'), w: box.width, h: box.height,
                    traces: c.querySelectorAll('g.trace, g.choroplethlocation, g.hm, g.funnellayer g.point, g.plot path').length};
          })};
})
"""


MAP_CENTRES_JS = """
Array.from(document.querySelectorAll('#chart-geography-0 path.choroplethlocation')).map(function (p) {
  var b = p.getBoundingClientRect(); return b.x + b.width / 2;
})
"""


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it, and in CI it must be there)")
def test_report_renders_in_headless_chromium(demo_html, demo_db, tmp_path):
    browser = Chromium(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1300, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": demo_html.as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", timeout=90)
        # plotly draws synchronously on load; the geo map once its (inline) shapes are read
        deadline = time.monotonic() + 30
        while True:
            result = browser.send("Runtime.evaluate", {"expression": CHECK_SECTIONS_JS, "returnByValue": True},
                                  session=session)["result"]["value"]
            if all(c["drawn"] and c["marks"] > 0 for s in result for c in s["charts"]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # where the map put the two top-revenue countries: the x centre of their shapes
        centres = browser.send("Runtime.evaluate", {"expression": MAP_CENTRES_JS, "returnByValue": True},
                               session=session)["result"]["value"]
        height = browser.send("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                                   "returnByValue": True}, session=session)["result"]["value"]
        shot = browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1300, "height": height, "scale": 0.5}}, session=session, timeout=120)
        screenshot = tmp_path / "demo_report.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {screenshot}")
    finally:
        browser.close()

    errors = [e["params"]["exceptionDetails"] for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    errors += [e["params"] for e in browser.events
               if e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert")]
    errors += [e["params"]["entry"] for e in browser.events
               if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
    assert not errors, json.dumps(errors, indent=1)[:4000]
    requested = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert [u for u in requested if not u.startswith(("file:", "data:", "blob:", "about:"))] == []

    by_key = {s["key"]: s for s in result}
    assert list(by_key) == SECTION_KEYS
    for key, s in by_key.items():
        assert not s["skipped"], key
        assert s["charts"], f"section {key} has no chart"
        for c in s["charts"]:
            assert c["drawn"] and c["svgs"] > 0 and c["marks"] > 0 and c["w"] > 100 and c["h"] > 100, (key, c)
    # the map drew its countries from the inline shapes, the right way round: in the demo the
    # United States (west) and India (east) have the most revenue, in that order
    assert any(c["traces"] > 0 for c in by_key["geography"]["charts"])
    with duckdb.connect(str(demo_db), read_only=True) as con:
        top = [r[0] for r in con.execute("select country from revenue_by_geography order by revenue desc limit 2").fetchall()]
    assert top == ["United States", "India"]
    assert len(centres) > 20 and centres[0] < centres[1], centres[:2]
    assert screenshot.stat().st_size > 50_000
