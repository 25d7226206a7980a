"""Write the offline HTML report of a built warehouse: one self-contained file.

    python -m segkit.report [--dataset demo] [--db warehouse/demo.duckdb] [--out warehouse/demo_report.html]

Reads the published warehouse read-only and writes one HTML file that works offline:
plotly.js and the world map shapes are inlined (no CDN, nothing fetched at view time).
One section per area (data quality, RFM, CLV, funnel, retention, churn, clusters,
predictions, product, geography), each with its chart(s) and the few figures an analyst
quotes; a section whose tables are absent or empty is skipped with a one-line note.
Deterministic: the same warehouse gives the same bytes (no clock, seeded sampling,
fixed element ids, rounded values).
"""
from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from segkit.summary import default_db_path

CLUSTER_SAMPLE_MAX = 5000
CLUSTER_SAMPLE_SEED = 20240101
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
           "#eeca3b"]


class Skip(Exception):
    """A section's tables are absent or empty: the section is skipped with this note."""


@dataclass
class Section:
    key: str
    title: str
    charts: list = field(default_factory=list)  # plotly figures
    stats: list[tuple[str, str]] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # HTML tables
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


# ---------------------------------------------------------------- formatting
def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_int(x) -> str:
    return "n/a" if _missing(x) else f"{int(round(float(x))):,}"


def fmt_num(x, digits: int = 2) -> str:
    return "n/a" if _missing(x) else f"{float(x):,.{digits}f}"


def fmt_money(x) -> str:
    return "n/a" if _missing(x) else f"{float(x):,.0f}" if abs(float(x)) >= 100 else f"{float(x):,.2f}"


def fmt_pct(x, digits: int = 1) -> str:
    return "n/a" if _missing(x) else f"{100 * float(x):.{digits}f}%"


def _round(values, digits: int = 4) -> list:
    """Floats rounded for the page (smaller file, no 0.8999568453986407 in hovers)."""
    out = []
    for v in values:
        if _missing(v):
            out.append(None)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(int(v))
        else:
            out.append(round(float(v), digits))
    return out


def html_table(df: pd.DataFrame, formats: dict[str, Callable] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, row):
            f = formats.get(col)
            text = f(v) if f else ("" if _missing(v) else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


# ---------------------------------------------------------------- warehouse access
class Warehouse:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        self._columns: dict[str, set[str]] = {}

    def df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def scalar(self, sql: str):
        row = self.con.execute(sql).fetchone()
        return row[0] if row else None

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            self._columns[table] = {r[0] for r in self.con.execute(
                "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?",
                [table]).fetchall()}
        return self._columns[table]

    def has(self, table: str) -> bool:
        """The table exists and has at least one row."""
        return table in self.tables and bool(self.scalar(f'select count(*) > 0 from main."{table}"'))

    def require(self, *tables: str) -> None:
        missing = [t for t in tables if not self.has(t)]
        if missing:
            raise Skip("no rows in " + ", ".join(f"`{t}`" for t in missing)
                       + (" (not built for this dataset)" if any(t not in self.tables for t in missing) else ""))


def _layout(fig, title: str, height: int = 380, **kw):
    kw.setdefault("margin", dict(l=60, r=20, t=50, b=50))
    fig.update_layout(title=dict(text=title, x=0.01, font=dict(size=14)), template="plotly_white", height=height,
                      font=dict(family="Helvetica, Arial, sans-serif", size=12), **kw)
    return fig


# ---------------------------------------------------------------- sections
def section_quality(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    w.require("input_reconciliation")
    rec = w.df("select source_table, sum(rows_in) as rows_in, sum(rows_used) as rows_used, "
               "sum(rows_rejected) as rows_rejected, bool_and(is_reconciled) as ok "
               "from input_reconciliation group by source_table order by source_table")
    fig = go.Figure([
        go.Bar(name="used", x=rec.source_table.tolist(), y=_round(rec.rows_used), marker_color=PALETTE[0],
               hovertemplate="%{x}: %{y:,} used<extra></extra>"),
        go.Bar(name="rejected", x=rec.source_table.tolist(), y=_round(rec.rows_rejected), marker_color=PALETTE[3],
               hovertemplate="%{x}: %{y:,} rejected<extra></extra>"),
    ])
    s.charts.append(_layout(fig, "Rows in per input: used and rejected", barmode="stack", yaxis_title="rows"))
    total_in, total_rej = int(rec.rows_in.sum()), int(rec.rows_rejected.sum())
    s.stats += [("rows in", fmt_int(total_in)), ("rows used", fmt_int(rec.rows_used.sum())),
                ("rows rejected", f"{fmt_int(total_rej)} ({fmt_pct(total_rej / total_in if total_in else 0, 2)})"),
                ("inputs reconciled", f"{int(rec.ok.sum())} of {len(rec)}")]
    if w.has("rejected_rows"):
        top = w.df("select source_table as input, reason, count(*) as rows from rejected_rows "
                   "group by 1, 2 order by 3 desc, 1, 2 limit 8")
        s.tables.append("<h3>Top rejection reasons</h3>" + html_table(top, {"rows": fmt_int}))
    else:
        s.notes.append("No rejected rows: every input row was used.")


def section_rfm(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    w.require("customer_rfm")
    seg = w.df("select rfm_segment, min(rfm_segment_rank) as rank_, count(*) as customers, "
               "sum(total_spend) as spend from customer_rfm group by 1 order by 2, 1")
    seg["spend"] = seg.spend.astype(float)
    n = int(seg.customers.sum())
    fig = go.Figure(go.Bar(x=seg.rfm_segment.astype(str).tolist(), y=_round(seg.customers), marker_color=PALETTE[0],
                           customdata=_round(seg.spend, 2),
                           hovertemplate="%{x}<br>%{y:,} customers<br>spend %{customdata:,.0f}<extra></extra>"))
    s.charts.append(_layout(fig, "Customers per RFM segment", yaxis_title="customers"))
    grid = w.df("select r_score, f_score, count(*) as customers, sum(total_spend) as spend from customer_rfm "
                "where r_score is not null and f_score is not null group by 1, 2 order by 1, 2")
    if len(grid):
        grid["spend"] = grid.spend.astype(float)
        rs = sorted(grid.r_score.unique().tolist())
        fs = sorted(grid.f_score.unique().tolist())
        cust = grid.pivot(index="r_score", columns="f_score", values="customers").reindex(index=rs, columns=fs)
        spend = grid.pivot(index="r_score", columns="f_score", values="spend").reindex(index=rs, columns=fs)
        hm = make_subplots(rows=1, cols=2, subplot_titles=("customers", "total spend"), horizontal_spacing=0.12)
        for col, (mat, fmt, scale) in enumerate(((cust, ",.0f", "Blues"), (spend, ",.0f", "Greens")), start=1):
            z = [[None if pd.isna(v) else round(float(v), 2) for v in r] for r in mat.to_numpy()]
            hm.add_trace(go.Heatmap(z=z, x=[f"F{f}" for f in fs], y=[f"R{r}" for r in rs], colorscale=scale,
                                    showscale=False, texttemplate="%{z:" + fmt + "}",
                                    hovertemplate="%{y} %{x}: %{z:" + fmt + "}<extra></extra>"), row=1, col=col)
        s.charts.append(_layout(hm, "R score x F score: customers and value", height=420))
    top = seg.sort_values(["spend", "rfm_segment"], ascending=[False, True]).iloc[0]
    s.stats += [("customers scored", fmt_int(n)), ("segments", fmt_int(len(seg))),
                ("largest segment", f"{seg.sort_values(['customers', 'rank_'], ascending=[False, True]).iloc[0].rfm_segment}"),
                ("top segment by spend",
                 f"{top.rfm_segment} ({fmt_pct(top.spend / seg.spend.sum() if seg.spend.sum() else 0)} of spend)")]


def section_clv(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    w.require("customer_clv")
    scores = w.df("select cast(clv_score as double) as v from customer_clv where clv_score is not null order by 1")
    if scores.empty:
        raise Skip("no clv_score in `customer_clv`")
    v = scores.v.to_numpy()
    counts, edges = np.histogram(v, bins=40)
    mids = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=_round(mids, 3), y=counts.tolist(), width=float(edges[1] - edges[0]),
                           marker_color=PALETTE[0], name="customers",
                           hovertemplate="clv_score ~%{x:,.1f}: %{y:,} customers<extra></extra>"))
    if w.has("clv_segment_cutoffs"):
        cuts = w.df("select clv_segment, percentile, clv_score_cutoff from clv_segment_cutoffs order by clv_segment_rank")
        for i, r in enumerate(cuts.itertuples(index=False)):
            fig.add_vline(x=round(float(r.clv_score_cutoff), 3), line_dash="dash", line_color=PALETTE[3])
            fig.add_annotation(x=round(float(r.clv_score_cutoff), 3), y=1 - 0.08 * i, yref="paper", showarrow=False,
                               xanchor="left", text=f"{html.escape(str(r.clv_segment))} (p{round(100 * r.percentile)}: "
                               f"{fmt_num(r.clv_score_cutoff)})", font=dict(size=11, color=PALETTE[3]),
                               bgcolor="rgba(255,255,255,0.85)")
        s.stats += [(f"{r.clv_segment} cut-off", f"p{round(100 * r.percentile)} = {fmt_num(r.clv_score_cutoff)}")
                    for r in cuts.itertuples(index=False)]
    s.charts.append(_layout(fig, "Distribution of clv_score with the segment cut-offs", xaxis_title="clv_score",
                            yaxis_title="customers", showlegend=False))
    s.stats = [("customers with a CLV segment", fmt_int(len(v))), ("median clv_score", fmt_num(np.median(v)))] + s.stats
    if w.has("clv_segment_profile"):
        prof = w.df("select * from clv_segment_profile order by clv_segment_rank")
        cols = [c for c in ["clv_segment", "customers", "historical_value", "avg_monthly_amount", "avg_tenure_months",
                            "tech_support_share", "multiple_lines_share"] if c in prof.columns]
        prof = prof[cols]
        s.tables.append("<h3>Segment profiles (clv_segment_profile)</h3>" + html_table(prof, {
            "customers": fmt_int, "historical_value": fmt_money, "avg_monthly_amount": fmt_money,
            "avg_tenure_months": lambda x: fmt_num(x, 1), "tech_support_share": fmt_pct,
            "multiple_lines_share": fmt_pct}))


def section_funnel(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    w.require("funnel_steps")
    st = w.df("select step_number, event_name, users, dropped_users, conversion_from_previous, conversion_from_start "
              "from funnel_steps order by step_number")
    fig = go.Figure(go.Funnel(y=st.event_name.tolist(), x=_round(st.users), textinfo="value+percent initial",
                              marker_color=PALETTE[0]))
    s.charts.append(_layout(fig, "Funnel: users reaching each step", height=320))
    s.stats.append(("entered", fmt_int(st.users.iloc[0])))
    s.stats.append(("converted to the last step", f"{fmt_int(st.users.iloc[-1])} ({fmt_pct(st.conversion_from_start.iloc[-1])})"))
    later = st.iloc[1:]
    if len(later):
        worst = later.sort_values(["conversion_from_previous", "step_number"]).iloc[0]
        s.stats.append(("largest drop-off", f"before {worst.event_name}: {fmt_int(worst.dropped_users)} lost "
                                            f"({fmt_pct(1 - worst.conversion_from_previous)})"))
    if w.has("funnel_by_cohort"):
        last = int(st.step_number.max())
        co = w.df(f"select cohort_start, entered_users, conversion_from_start from funnel_by_cohort "
                  f"where step_number = {last} and is_mature order by cohort_start")
        if len(co):
            fig2 = go.Figure(go.Scatter(x=[d.isoformat() for d in pd.to_datetime(co.cohort_start).dt.date],
                                        y=_round(co.conversion_from_start), mode="lines+markers",
                                        customdata=_round(co.entered_users), line_color=PALETTE[1],
                                        hovertemplate="%{x}: %{y:.1%} of %{customdata:,}<extra></extra>"))
            s.charts.append(_layout(fig2, f"Conversion to {st.event_name.iloc[-1]} by entry cohort (mature cohorts)",
                                    yaxis_tickformat=".0%", height=320))
        else:
            s.notes.append("No mature entry cohort yet in `funnel_by_cohort`.")


def section_retention(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    w.require("cohort_retention")
    cr = w.df("select cohort_month, months_since_first, cohort_customers, active_customers, retention_rate "
              "from cohort_retention order by cohort_month, months_since_first")
    cohorts = sorted(pd.to_datetime(cr.cohort_month).dt.strftime("%Y-%m").unique().tolist())
    cr["cohort"] = pd.to_datetime(cr.cohort_month).dt.strftime("%Y-%m")
    months = sorted(cr.months_since_first.unique().tolist())
    mat = cr.pivot(index="cohort", columns="months_since_first", values="retention_rate").reindex(index=cohorts, columns=months)
    z = [[None if pd.isna(v) else round(float(v), 4) for v in r] for r in mat.to_numpy()]
    fig = go.Figure(go.Heatmap(z=z, x=[int(m) for m in months], y=cohorts, colorscale="Blues", zmin=0, zmax=1,
                               colorbar=dict(tickformat=".0%"),
                               hovertemplate="cohort %{y}, month %{x}: %{z:.1%}<extra></extra>"))
    s.charts.append(_layout(fig, "Cohort retention: share of each first-month cohort active n months later",
                            height=max(380, 14 * len(cohorts) + 120), xaxis_title="months since first activity",
                            yaxis_autorange="reversed"))
    wavg = w.df("select months_since_first as m, sum(active_customers) / sum(cohort_customers) as r "
                "from cohort_retention where months_since_first in (1, 3, 6, 12) group by 1 order by 1")
    s.stats.append(("cohorts", fmt_int(len(cohorts))))
    s.stats += [(f"month-{int(r.m)} retention (all cohorts)", fmt_pct(r.r)) for r in wavg.itertuples(index=False)]
    if w.has("tier_movements") and "mrr_change" in w.columns("tier_movements"):
        mv = w.df("select movement_type, sum(mrr_change) as mrr from tier_movements "
                  "where movement_type <> 'retained' group by 1")
        order = ["new", "reactivation", "upgrade", "downgrade", "churn"]
        mv["o"] = [order.index(t) if t in order else len(order) for t in mv.movement_type]
        mv = mv.sort_values(["o", "movement_type"])
        vals = [round(float(x), 2) for x in mv.mrr]
        fig2 = go.Figure(go.Waterfall(x=mv.movement_type.tolist() + ["net change"], y=vals + [None],
                                      measure=["relative"] * len(vals) + ["total"],
                                      increasing_marker_color=PALETTE[2], decreasing_marker_color=PALETTE[3],
                                      totals_marker_color=PALETTE[0], texttemplate="%{delta:,.0f}",
                                      hovertemplate="%{x}: %{delta:,.0f}<extra></extra>"))
        running = np.cumsum([0.0] + vals)
        pad = 0.12 * (running.max() - running.min() or 1.0)
        s.charts.append(_layout(fig2, "MRR movement bridge (all months, from tier_movements)", yaxis_title="MRR change",
                                height=340, yaxis_range=[round(min(running.min(), 0) - pad, 2), round(running.max() + pad, 2)]))
        s.stats.append(("net MRR change", fmt_money(sum(vals))))
    else:
        s.notes.append("No MRR movements (`tier_movements`) for this dataset: the bridge is not drawn.")


def section_churn(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    w.require("customer_churn_risk")
    pr = w.df("select churn_probability as p, risk_band from customer_churn_risk where churn_probability is not null")
    counts, edges = np.histogram(pr.p.to_numpy(), bins=20, range=(0.0, 1.0))
    fig = go.Figure(go.Bar(x=_round((edges[:-1] + edges[1:]) / 2, 3), y=counts.tolist(), width=0.05,
                           marker_color=PALETTE[3], hovertemplate="p ~%{x:.3f}: %{y:,} customers<extra></extra>"))
    s.charts.append(_layout(fig, "Churn risk: distribution of churn_probability", xaxis_title="churn probability",
                            yaxis_title="customers", height=320))
    bands = pr.risk_band.value_counts()
    s.stats.append(("customers scored", fmt_int(len(pr))))
    s.stats += [(f"{b} risk", f"{fmt_int(bands[b])} ({fmt_pct(bands[b] / len(pr))})")
                for b in sorted(bands.index,
                                key=lambda b: ["High", "Medium", "Low"].index(b) if b in ("High", "Medium", "Low") else 9)]
    if w.has("prediction_metrics"):
        m = w.df("select roc_auc, precision_top_decile, lift_top_decile, base_rate from prediction_metrics "
                 "where model_name = 'churn' and target = 'churn'")
        if len(m):
            r = m.iloc[0]
            s.stats += [("ROC AUC (held out)", fmt_num(r.roc_auc)), ("precision in top decile", fmt_pct(r.precision_top_decile)),
                        ("lift in top decile", fmt_num(r.lift_top_decile, 1)), ("base rate", fmt_pct(r.base_rate))]
    if w.has("churn_drivers"):
        d = w.df("select feature, importance_mean from churn_drivers where target = 'churn' order by rank limit 12")
        if len(d):
            fig2 = go.Figure(go.Bar(x=_round(d.importance_mean[::-1], 5), y=d.feature[::-1].tolist(), orientation="h",
                                    marker_color=PALETTE[0], hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
            s.charts.append(_layout(fig2, "Churn drivers: permutation importance (held-out rows)", height=360,
                                    xaxis_title="mean drop in score when shuffled"))
    # ROC of the held-out scores: out-of-fold probabilities with the labels of the same rows
    roc = None
    if (w.has("churn_model_input") and {"split", "is_churned_next"} <= w.columns("churn_model_input")
            and "is_scored_out_of_fold" in w.columns("customer_churn_risk")):
        roc = w.df("select r.churn_probability as p, cast(i.is_churned_next as integer) as y "
                   "from customer_churn_risk r join churn_model_input i using (customer_id) "
                   "where r.is_scored_out_of_fold and i.split <> 'score' and i.is_churned_next is not null "
                   "order by r.customer_id")
    if roc is not None and len(roc) and roc.y.nunique() == 2:
        fpr, tpr, auc = roc_points(roc.p.to_numpy(), roc.y.to_numpy())
        fig3 = go.Figure([go.Scatter(x=_round(fpr), y=_round(tpr), mode="lines", line_color=PALETTE[1],
                                     name=f"model (AUC {auc:.3f})", hovertemplate="FPR %{x:.2f}, TPR %{y:.2f}<extra></extra>"),
                          go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#999"), name="chance")])
        s.charts.append(_layout(fig3, "ROC curve of the out-of-fold churn scores", xaxis_title="false positive rate",
                                yaxis_title="true positive rate", height=360))
        s.stats.append(("out-of-fold rows in the ROC", fmt_int(len(roc))))
    else:
        folds = _fold_aucs(w)
        s.notes.append("ROC curve not drawn: the warehouse holds no out-of-fold scores with their labels for this "
                       "dataset (a temporal model publishes only the scores of the current customers)"
                       + ("; the per-fold held-out ROC AUCs are shown instead." if folds else "."))
        if folds:
            fig3 = go.Figure(go.Bar(x=[f"fold {i + 1}" for i in range(len(folds))], y=_round(folds, 4),
                                    marker_color=PALETTE[1], texttemplate="%{y:.3f}",
                                    hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
            s.charts.append(_layout(fig3, "Held-out ROC AUC per cross-validation fold", yaxis_range=[0.5, 1], height=300))


def roc_points(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """ROC curve (false and true positive rates at each distinct threshold) and its AUC."""
    order = np.lexsort((y, -p))  # descending score; ties kept together below
    p, y = p[order], y[order].astype(float)
    distinct = np.r_[np.where(np.diff(p))[0], len(p) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / y.sum()]
    fpr = np.r_[0.0, fps / (len(y) - y.sum())]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def _fold_aucs(w: Warehouse) -> list[float]:
    if "run_info" not in w.columns("customer_churn_risk"):
        return []
    info = w.scalar("select run_info from customer_churn_risk where run_info is not null order by customer_id limit 1")
    try:
        return [float(x) for x in json.loads(info)["metrics"]["roc_auc_folds"]]
    except (TypeError, ValueError, KeyError):
        return []


NUMERIC_TYPES = ("BIGINT", "INTEGER", "DOUBLE", "FLOAT", "DECIMAL", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "REAL")


def section_clusters(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go
    from sklearn.decomposition import PCA

    w.require("cluster_input", "customer_clusters")
    methods = [r[0] for r in w.con.execute("select distinct method from customer_clusters order by "
                                           "case when method = 'kmeans' then 0 else 1 end, method").fetchall()]
    method = methods[0]
    cols = [r[0] for r in w.con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = 'main' "
        "and table_name = 'cluster_input' order by ordinal_position").fetchall()
        if r[0] != "customer_id" and any(str(r[1]).upper().startswith(t) for t in NUMERIC_TYPES)]
    sel = ", ".join(f'cast(i."{c}" as double) as "{c}"' for c in cols)
    df = w.df(f"select i.customer_id, c.cluster_id, c.value_tier, {sel} from cluster_input i "
              f"join customer_clusters c on c.customer_id = i.customer_id and c.method = '{method}' order by i.customer_id")
    if df.empty or not cols:
        raise Skip("no clustered customers with numeric features")
    n_all = len(df)
    if n_all > CLUSTER_SAMPLE_MAX:
        idx = np.sort(np.random.default_rng(CLUSTER_SAMPLE_SEED).choice(n_all, CLUSTER_SAMPLE_MAX, replace=False))
        df = df.iloc[idx].reset_index(drop=True)
    x = df[cols].to_numpy(dtype=float)
    keep = [j for j in range(x.shape[1]) if np.isfinite(x[:, j]).any() and np.nanstd(x[:, j]) > 0]
    x = x[:, keep]
    x = np.where(np.isfinite(x), x, np.nanmedian(x, axis=0))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    pca = PCA(n_components=2, svd_solver="full")
    xy = pca.fit_transform(x)
    fig = go.Figure()
    labels = df.cluster_id.astype("Int64").astype(str) + " · " + df.value_tier.fillna("").astype(str)
    for i, lab in enumerate(sorted(labels.unique(), key=lambda t: (len(t.split(" · ")[0]), t))):
        m = (labels == lab).to_numpy()
        fig.add_trace(go.Scatter(x=_round(xy[m, 0], 3), y=_round(xy[m, 1], 3), mode="markers", name=f"cluster {lab}",
                                 marker=dict(size=4, opacity=0.6, color=PALETTE[i % len(PALETTE)]),
                                 hovertemplate=f"cluster {html.escape(lab)}<extra></extra>"))
    ev = pca.explained_variance_ratio_
    s.charts.append(_layout(fig, f"{method} clusters on the first two principal components of cluster_input "
                                 f"({len(keep)} standardised features)", height=440,
                            xaxis_title=f"PC1 ({fmt_pct(ev[0])} of variance)", yaxis_title=f"PC2 ({fmt_pct(ev[1])})"))
    s.stats += [("method shown", method), ("clusters", fmt_int(df.cluster_id.nunique())),
                ("customers plotted",
                 f"{fmt_int(len(df))} of {fmt_int(n_all)}" + (" (seeded sample)" if n_all > len(df) else "")),
                ("variance in 2 components", fmt_pct(ev.sum()))]
    if w.has("cluster_profiles"):
        have = [r[0] for r in w.con.execute(
            "select column_name from information_schema.columns where table_schema = 'main' "
            "and table_name = 'cluster_profiles' order by ordinal_position").fetchall()]
        means = [c for c in ("mean_orders", "mean_total_spend", "mean_days_since_last_purchase") if c in have] or [
            c for c in have if c.startswith("mean_")][:4]  # the mean_* columns follow each dataset's features
        cols = [c for c in ("cluster_id", "value_tier", "customers", "customer_share", "value_share") if c in have] + means
        prof = w.df(f"select {', '.join(cols)} from cluster_profiles where method = '{method}' order by cluster_id")
        s.tables.append(f"<h3>Cluster profiles ({html.escape(method)})</h3>" + html_table(prof, {
            "customers": fmt_int, "customer_share": fmt_pct, "value_share": fmt_pct, "mean_orders": lambda v: fmt_num(v, 1),
            "mean_total_spend": fmt_money, "mean_days_since_last_purchase": lambda v: fmt_num(v, 0)}))


def section_predictions(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    drew = False
    if w.has("segment_backtest") and w.has("backtest_cutoff_features"):
        cal = _calibration(w)
        if cal is not None:
            tab, cutoff, horizon, unit = cal
            fig = go.Figure([
                go.Scatter(x=tab.bucket.tolist(), y=_round(tab.actual, 3), mode="lines+markers", name="actual",
                           line_color=PALETTE[0], hovertemplate="%{x} repeat purchases: %{y:.2f} actual<extra></extra>"),
                go.Scatter(x=tab.bucket.tolist(), y=_round(tab.predicted, 3), mode="lines+markers", name="BG/NBD predicted",
                           line=dict(dash="dash", color=PALETTE[1]),
                           hovertemplate="%{x} repeat purchases: %{y:.2f} predicted<extra></extra>")])
            s.charts.append(_layout(fig, f"BG/NBD calibration: purchases in the {fmt_num(horizon, 0)}-{unit} holdout after "
                                         f"{cutoff}, by repeat purchases before it", height=360,
                                    xaxis_title="repeat purchases before the cut-off", yaxis_title="mean purchases in holdout",
                                    xaxis_type="category"))
            s.stats += [("backtest cut-off", cutoff), ("customers in the calibration", fmt_int(tab.customers.sum())),
                        ("predicted / actual holdout purchases",
                         fmt_num((tab.predicted * tab.customers).sum() / max((tab.actual * tab.customers).sum(), 1e-12)))]
            drew = True
        bt = w.df("select method, avg(precision) as precision, avg(lift) as lift, count(*) as cutoffs "
                  "from segment_backtest where precision is not null group by 1 order by 3 desc, 1")
        if len(bt):
            s.tables.append("<h3>Backtest of each segmentation's High set (mean over cut-offs)</h3>"
                            + html_table(bt, {"precision": fmt_pct, "lift": lambda v: fmt_num(v, 1), "cutoffs": fmt_int}))
    if w.has("customer_clv_forecast"):
        seg_sql = ("select coalesce(r.rfm_segment, 'no RFM segment') as segment, min(coalesce(r.rfm_segment_rank, 999)) as rk, "
                   "count(*) as customers, cast(avg(cast(f.predicted_clv as decimal(38, 4))) as double) as mean_clv, "
                   "sum(cast(f.predicted_clv as decimal(38, 4))) as total "
                   "from customer_clv_forecast f left join customer_rfm r using (customer_id) "
                   "where f.predicted_clv is not null group by 1 order by 2, 1") if "customer_rfm" in w.tables else (
                   "select 'all customers' as segment, 1 as rk, count(*) as customers, "
                   "cast(avg(cast(predicted_clv as decimal(38, 4))) as double) as mean_clv, "
                   "sum(cast(predicted_clv as decimal(38, 4))) as total from customer_clv_forecast "
                   "where predicted_clv is not null")
        seg = w.df(seg_sql)
        if len(seg) and seg.customers.sum() > 0:
            seg["total"] = seg.total.astype(float)
            horizon = w.scalar("select max(horizon_months) from customer_clv_forecast")
            fig2 = go.Figure(go.Bar(x=seg.segment.tolist(), y=_round(seg.mean_clv, 2), marker_color=PALETTE[2],
                                    customdata=_round(seg.customers),
                                    hovertemplate="%{x}: mean %{y:,.2f} over %{customdata:,} customers<extra></extra>"))
            s.charts.append(_layout(fig2, f"Predicted CLV (BG/NBD + Gamma-Gamma, {fmt_int(horizon)} months) by RFM segment",
                                    yaxis_title="mean predicted CLV", height=340))
            s.stats += [("predicted CLV, all customers", fmt_money(seg.total.sum())),
                        ("mean predicted CLV", fmt_money(seg.total.sum() / seg.customers.sum()))]
            drew = True
    if not drew:
        raise Skip("no rows in `customer_clv_forecast` or `segment_backtest`")


def _calibration(w: Warehouse):
    """Mean predicted (BG/NBD with the parameters fitted at the last backtest cut-off) vs actual purchases
    in the holdout window, by repeat purchases before the cut-off (lifetimes' calibration plot)."""
    from segkit.btyd import BetaGeoFitter

    row = w.con.execute("select cast(cutoff_date as date), details from segment_backtest where method = 'predicted_purchases' "
                        "and details is not null order by cutoff_date desc limit 1").fetchone()
    if not row:
        return None
    try:
        det = json.loads(row[1])
        params, horizon = det["bgnbd_params"], float(det["horizon_periods"])
    except (TypeError, ValueError, KeyError):
        return None
    cols = w.columns("backtest_cutoff_features")
    if not {"frequency", "recency", "T", "next_orders"} <= cols:
        return None
    df = w.df(f"select frequency, recency, \"T\", next_orders from backtest_cutoff_features "
              f"where cast(cutoff_date as date) = date '{row[0]}' and frequency is not null and recency is not null "
              f"and \"T\" is not null order by customer_id")
    if df.empty:
        return None
    bgf = BetaGeoFitter.from_params(params["r"], params["alpha"], params["a"], params["b"])
    df["predicted"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        horizon, df.frequency.to_numpy(float), df.recency.to_numpy(float), df["T"].to_numpy(float))
    df["actual"] = df.next_orders.fillna(0).astype(float)
    cap = 7
    df["b"] = df.frequency.clip(upper=cap).astype(int)
    tab = df.groupby("b").agg(customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
    tab = tab.reset_index().sort_values("b")
    tab["bucket"] = [f"{b}+" if b == cap else str(b) for b in tab.b]
    return tab, str(row[0]), horizon, str(det.get("time_unit") or "period")


def section_product(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    drew = False
    if w.has("product_performance"):
        pp = w.df("select product_id, product_category, cast(revenue as double) as revenue, revenue_share, units, "
                  "refund_rate, is_laggard, revenue_rank from product_performance order by revenue_rank, product_id")
        top = pp.head(10)
        fig = go.Figure(go.Bar(x=_round(top.revenue[::-1], 2),
                               y=(top.product_id.astype(str) + " (" + top.product_category.astype(str) + ")")[::-1].tolist(),
                               orientation="h", marker_color=PALETTE[0], customdata=_round(top.revenue_share[::-1]),
                               hovertemplate="%{y}: %{x:,.0f} (%{customdata:.1%})<extra></extra>"))
        s.charts.append(_layout(fig, "Top 10 products by revenue", height=380, xaxis_title="revenue"))
        lag = pp[pp.is_laggard.fillna(False).astype(bool)].sort_values(["revenue", "product_id"]).head(8)
        s.stats += [("products", fmt_int(len(pp))), ("top 10 share of revenue", fmt_pct(top.revenue_share.sum())),
                    ("laggards", fmt_int(int(pp.is_laggard.fillna(False).astype(bool).sum())))]
        if len(lag):
            s.tables.append("<h3>Laggards (lowest revenue)</h3>" + html_table(
                lag[["product_id", "product_category", "revenue", "units", "refund_rate"]],
                {"revenue": fmt_money, "units": fmt_int, "refund_rate": fmt_pct}))
        drew = True
    if w.has("cross_sell_pairs"):
        cs = w.df("select item_a, item_b, item_level, baskets_both, support, confidence_a_to_b, lift from cross_sell_pairs "
                  "order by lift desc, item_a, item_b limit 10")
        fig2 = go.Figure(go.Bar(x=_round(cs.lift[::-1], 3), y=(cs.item_a + " + " + cs.item_b)[::-1].tolist(), orientation="h",
                                marker_color=PALETTE[4], customdata=_round(cs.baskets_both[::-1]),
                                hovertemplate="%{y}: lift %{x:.2f}, %{customdata:,} baskets<extra></extra>"))
        fig2.add_vline(x=1, line_dash="dot", line_color="#999")
        s.charts.append(_layout(fig2, "Cross-sell pairs by lift (1 = independent)", height=320, xaxis_title="lift"))
        best = cs.iloc[0]
        s.stats.append(("best pair", f"{best.item_a} + {best.item_b}: lift {fmt_num(best.lift)}"))
        drew = True
    if not drew:
        raise Skip("no rows in `product_performance` or `cross_sell_pairs`")


# ISO 3166-1: name or alpha-2 -> alpha-3 (what the map's shapes are keyed by)
_COUNTRIES = """AFG AF Afghanistan|ALB AL Albania|DZA DZ Algeria|ARG AR Argentina|ARM AM Armenia|AUS AU Australia|AUT AT Austria
|AZE AZ Azerbaijan|BGD BD Bangladesh|BLR BY Belarus|BEL BE Belgium|BOL BO Bolivia|BIH BA Bosnia and Herzegovina|BRA BR Brazil
|BGR BG Bulgaria|KHM KH Cambodia|CMR CM Cameroon|CAN CA Canada|CHL CL Chile|CHN CN China|COL CO Colombia|CRI CR Costa Rica
|HRV HR Croatia|CUB CU Cuba|CYP CY Cyprus|CZE CZ Czechia;Czech Republic|DNK DK Denmark|DOM DO Dominican Republic|ECU EC Ecuador
|EGY EG Egypt|SLV SV El Salvador|EST EE Estonia|ETH ET Ethiopia|FIN FI Finland|FRA FR France|GEO GE Georgia|DEU DE Germany
|GHA GH Ghana|GRC GR Greece|GTM GT Guatemala|HND HN Honduras|HKG HK Hong Kong|HUN HU Hungary|ISL IS Iceland|IND IN India
|IDN ID Indonesia|IRN IR Iran|IRQ IQ Iraq|IRL IE Ireland|ISR IL Israel|ITA IT Italy|JAM JM Jamaica|JPN JP Japan|JOR JO Jordan
|KAZ KZ Kazakhstan|KEN KE Kenya|KOR KR South Korea;Korea, Republic of;Republic of Korea;Korea|KWT KW Kuwait|LVA LV Latvia
|LBN LB Lebanon|LTU LT Lithuania|LUX LU Luxembourg|MYS MY Malaysia|MLT MT Malta|MEX MX Mexico|MDA MD Moldova|MAR MA Morocco
|MMR MM Myanmar|NPL NP Nepal|NLD NL Netherlands;The Netherlands|NZL NZ New Zealand|NIC NI Nicaragua|NGA NG Nigeria
|MKD MK North Macedonia|NOR NO Norway|OMN OM Oman|PAK PK Pakistan|PAN PA Panama|PRY PY Paraguay|PER PE Peru|PHL PH Philippines
|POL PL Poland|PRT PT Portugal|PRI PR Puerto Rico|QAT QA Qatar|ROU RO Romania|RUS RU Russia;Russian Federation|SAU SA Saudi Arabia
|SEN SN Senegal|SRB RS Serbia|SGP SG Singapore|SVK SK Slovakia|SVN SI Slovenia|ZAF ZA South Africa|ESP ES Spain|LKA LK Sri Lanka
|SWE SE Sweden|CHE CH Switzerland|TWN TW Taiwan|TZA TZ Tanzania|THA TH Thailand|TUN TN Tunisia|TUR TR Turkey;Türkiye
|UGA UG Uganda|UKR UA Ukraine|ARE AE United Arab Emirates;UAE|GBR GB United Kingdom;UK;Great Britain;England;Scotland;Wales
|USA US United States;United States of America;USA;US|URY UY Uruguay|UZB UZ Uzbekistan|VEN VE Venezuela|VNM VN Vietnam;Viet Nam
|ZMB ZM Zambia|ZWE ZW Zimbabwe"""


def _country_lookup() -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in _COUNTRIES.replace("\n", "").split("|"):
        a3, a2, names = entry.strip().split(" ", 2)
        for key in (a3, a2, *names.split(";")):
            out[key.strip().casefold()] = a3
    return out


def iso3(country) -> str | None:
    """ISO 3166-1 alpha-3 code of a country name or code, None when unknown."""
    if _missing(country):
        return None
    return _country_lookup().get(str(country).strip().casefold())


def _map_ids() -> set[str]:
    topo = json.loads(_asset("world_110m.json"))
    return {g["id"] for g in topo["objects"]["countries"]["geometries"] if g.get("id")}  # some shapes have no id


def section_geography(w: Warehouse, s: Section) -> None:
    import plotly.graph_objects as go

    w.require("revenue_by_geography")
    geo = w.df("select country, sum(customers) as customers, sum(cast(revenue as decimal(38, 2))) as revenue "
               "from revenue_by_geography group by 1 order by 3 desc, 1")
    geo["revenue"] = geo.revenue.astype(float)
    geo["iso3"] = [iso3(c) for c in geo.country]
    shapes = _map_ids()
    on_map = geo[geo.iso3.isin(shapes)]
    if on_map.empty:
        raise Skip("no country in `revenue_by_geography` could be placed on the map")
    total = geo.revenue.sum()
    fig = go.Figure(go.Choropleth(locations=on_map.iso3.tolist(), z=_round(on_map.revenue, 2), locationmode="ISO-3",
                                  text=on_map.country.tolist(), colorscale="Blues", marker_line_color="#fff",
                                  colorbar=dict(title="revenue", tickformat=",.0f"),
                                  customdata=_round(on_map.customers),
                                  hovertemplate="%{text}: %{z:,.0f}<br>%{customdata:,} customers<extra></extra>"))
    fig.update_geos(projection_type="natural earth", projection_rotation=dict(lon=0, lat=0, roll=0),
                    center=dict(lon=0, lat=0), lonaxis_range=[-180, 180], lataxis_range=[-60, 85], showcountries=True,
                    countrycolor="#ccc", showframe=False,
                    resolution=110, scope="world", showland=True, landcolor="#f2f2f2")
    s.charts.append(_layout(fig, "Revenue by country", height=460, margin=dict(l=10, r=10, t=50, b=10)))
    top = geo.iloc[0]
    s.stats += [("countries", fmt_int(len(geo))), ("revenue", fmt_money(total)),
                ("top country", f"{top.country} ({fmt_pct(top.revenue / total if total else 0)})"),
                ("top 5 share", fmt_pct(geo.revenue.head(5).sum() / total if total else 0))]
    unplaced = geo[~geo.iso3.isin(shapes)]
    if len(unplaced):
        s.notes.append("Not on the map (unknown name or too small for the 1:110m shapes): "
                       + ", ".join(f"{c} ({fmt_money(r)})" for c, r in zip(unplaced.country.astype(str), unplaced.revenue)) + ".")


SECTIONS: list[tuple[str, str, Callable[[Warehouse, Section], None]]] = [
    ("quality", "Data quality", section_quality),
    ("rfm", "RFM", section_rfm),
    ("clv", "Customer lifetime value", section_clv),
    ("funnel", "Funnel", section_funnel),
    ("retention", "Retention", section_retention),
    ("churn", "Churn", section_churn),
    ("clusters", "Clusters", section_clusters),
    ("predictions", "Predictions", section_predictions),
    ("product", "Products and cross-sell", section_product),
    ("geography", "Geography", section_geography),
]


# ---------------------------------------------------------------- page
def _asset(name: str) -> str:
    return resources.files("segkit").joinpath("assets", name).read_text(encoding="utf-8")


CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
nav{padding:8px 32px;background:#eef2f6;font-size:13px}nav a{margin-right:14px;color:#1f3b57}
main{padding:8px 32px 40px;max-width:1200px}
section.report-section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:18px 0;padding:12px 20px}
section.report-section h2{margin:4px 0 10px;font-size:18px}h3{font-size:14px;margin:14px 0 6px}
dl.stats{display:flex;flex-wrap:wrap;gap:10px 28px;margin:0 0 8px}dl.stats div{min-width:120px}
dl.stats dt{font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.03em}\
dl.stats dd{margin:0;font-size:17px;font-weight:600}
p.note{color:#6b5b00;background:#fff8db;padding:6px 10px;border-radius:4px;font-size:13px}
section.skipped{opacity:.8}table.data{border-collapse:collapse;font-size:12px;margin-bottom:8px}
table.data th,table.data td{border-bottom:1px solid #eee;padding:3px 10px;text-align:left}table.data th{background:#f4f6f8}
"""


def build_sections(con: duckdb.DuckDBPyConnection) -> list[Section]:
    w = Warehouse(con)
    out = []
    for key, title, fn in SECTIONS:
        s = Section(key, title)
        try:
            fn(w, s)
            if not s.charts:
                raise Skip("nothing to draw")
        except Skip as exc:
            s = Section(key, title, skipped=str(exc))
        except (duckdb.Error, KeyError, ValueError, TypeError) as exc:  # a table of an unexpected shape
            print(f"report: section {key} not drawn: {type(exc).__name__}: {exc}", file=sys.stderr)
            s = Section(key, title, skipped=f"could not be drawn ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        out.append(s)
    return out


def _render(db_path: Path, dataset: str | None) -> tuple[str, str]:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    if not Path(db_path).exists():
        raise FileNotFoundError(f"no warehouse at {db_path}: run `make demo` (or dbt build) first")
    with duckdb.connect(str(db_path), read_only=True) as con:
        meta = _meta(con, dataset, Path(db_path))
        sections = build_sections(con)
    config = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}
    body = []
    for s in sections:
        parts = [f'<section class="report-section{" skipped" if s.skipped else ""}" id="section-{s.key}" '
                 f'data-section="{s.key}"><h2>{html.escape(s.title)}</h2>']
        if s.skipped:
            parts.append(f'<p class="note skip-note">Skipped: {html.escape(s.skipped)}.</p>')
        else:
            if s.stats:
                parts.append('<dl class="stats">' + "".join(
                    f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>" for k, v in s.stats) + "</dl>")
            for i, fig in enumerate(s.charts):
                parts.append('<div class="chart">' + pio.to_html(
                    fig, full_html=False, include_plotlyjs=False, div_id=f"chart-{s.key}-{i}", config=config,
                    validate=True) + "</div>")
            parts += s.tables
            parts += [f'<p class="note">{html.escape(n)}</p>' for n in s.notes]
        parts.append("</section>")
        body.append("".join(parts))
    drawn = [s for s in sections if not s.skipped]
    nav = " ".join(f'<a href="#section-{s.key}">{html.escape(s.title)}</a>' for s in drawn)
    topo = _asset("world_110m.json").strip()
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Segment report: {html.escape(meta['dataset'])}</title>",
        f"<style>{CSS}</style>",
        # before plotly.js: its geo maps then read the shapes from here instead of a CDN
        "<script>window.PlotlyGeoAssets = {topojson: {\"world_110m\": ", topo.replace("</", "<\\/"), "}};</script>",
        "<script>", get_plotlyjs(), "</script>",
        "</head><body>",
        f"<header><h1>Segment report: {html.escape(meta['dataset'])}</h1><p>{html.escape(meta['line'])} · "
        f"{len(drawn)} of {len(sections)} sections drawn</p></header>",
        f"<nav>{nav}</nav><main>", "\n".join(body), "</main></body></html>\n",
    ]), meta["dataset"]


def _meta(con, dataset: str | None, db_path: Path) -> dict[str, str]:
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                        "where table_schema = 'main'").fetchall()}
    as_of = None
    if "run_settings" in tables:
        if dataset is None:
            v = con.execute("select value_json from run_settings where setting_name = 'dataset'").fetchone()
            dataset = json.loads(v[0]) if v and v[0] else None
        cols = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                          "where table_name = 'run_settings'").fetchall()}
        if "resolved_as_of_date" in cols:
            row = con.execute("select max(resolved_as_of_date) from run_settings").fetchone()
            as_of = row[0] if row else None
    dataset = dataset or db_path.stem
    line = f"warehouse {db_path.name}" + (f" · as of {as_of}" if as_of else "")
    return {"dataset": str(dataset), "line": line}


def default_out_path(db_path: Path, dataset: str | None) -> Path:
    """warehouse/<dataset>_report.html, next to the published warehouse file."""
    return Path(db_path).with_name(f"{dataset or Path(db_path).stem}_report.html")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="dataset name, used for the default paths")
    parser.add_argument("--db", type=Path, default=None, help="DuckDB file (default: $SEGMENTS_DB or warehouse/<dataset>.duckdb)")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default: <dataset>_report.html beside the warehouse)")
    args = parser.parse_args(argv)
    db_path = args.db or default_db_path(args.dataset)
    try:
        page, dataset = _render(db_path, args.dataset)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    out = args.out or default_out_path(db_path, dataset)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"Report: {out} ({len(page.encode('utf-8')) / 1e6:.1f} MB): open it in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
