"""Tests for the deterministic demo-data generator (segkit.generate)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segkit import generate as gen

N = 1500
SEED = 7
START = pd.Timestamp("2023-01-01 00:00:00")
END = pd.Timestamp("2024-12-31 23:59:59")

EXPECTED_COLUMNS = {
    "customers": [
        "customer_id", "signed_up_at", "country", "region", "age_group",
        "gender", "occupation", "referral_channel",
    ],
    "transactions": [
        "transaction_id", "customer_id", "transacted_at", "amount", "product_id",
        "product_category", "creator_id", "channel", "quantity",
    ],
    "events": ["customer_id", "event_at", "event_name", "object_id", "value", "properties"],
    "subscriptions": [
        "subscription_id", "customer_id", "plan_level", "plan_type", "monthly_amount",
        "started_at", "ended_at", "end_reason", "is_churned",
    ],
    "customer_types": ["customer_id", "customer_type"],
}


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return gen.generate(N, seed=SEED)


@pytest.fixture(scope="module")
def dfs(tables) -> dict[str, pd.DataFrame]:
    return {name: t.to_pandas() for name, t in tables.items()}


@pytest.fixture(scope="module")
def con(tables) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for name, t in tables.items():
        c.register(name, t)
    yield c
    c.close()


@pytest.fixture(scope="module")
def features(con) -> pd.DataFrame:
    """Per-customer behavioural features with the hidden type."""
    return con.sql(
        """
        with tx as (
            select customer_id,
                   sum(amount) as spend,
                   count(*) filter (where amount > 0) as n_purchases,
                   max(transacted_at) as last_tx
            from transactions group by 1),
        ev as (
            select customer_id,
                   coalesce(sum(value) filter (where event_name = 'video_watched'), 0) as watch_minutes,
                   count(*) filter (where event_name = 'completed_course') as n_completed,
                   count(*) filter (where event_name = 'enrolled_in_course') as n_enrolled,
                   avg(value) filter (where event_name = 'quiz_submitted') as quiz_score,
                   avg(value) filter (where event_name = 'nps_answered') as nps,
                   count(*) filter (where event_name = 'support_contact') as support_contacts,
                   max(event_at) as last_event
            from events group by 1),
        sub as (
            select customer_id,
                   max(case plan_level when 'Premium' then 3 when 'Standard' then 2 else 1 end) as max_tier,
                   bool_or(is_churned) as churned
            from subscriptions group by 1)
        select ct.customer_type, c.customer_id,
               coalesce(tx.spend, 0) as spend,
               coalesce(tx.n_purchases, 0) as n_purchases,
               date_diff('day', tx.last_tx, timestamp '2024-12-31 23:59:59') as recency_days,
               date_diff('day', ev.last_event, timestamp '2024-12-31 23:59:59') as event_recency_days,
               ev.watch_minutes, ev.quiz_score, ev.nps, ev.support_contacts,
               ev.n_completed / nullif(ev.n_enrolled, 0) as completion_rate,
               sub.max_tier, sub.churned
        from customers c
        join customer_types ct using (customer_id)
        left join tx using (customer_id)
        left join ev using (customer_id)
        left join sub using (customer_id)
        """
    ).df()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    """First row of a query (DuckDB 2 relations have no fetchone())."""
    return con.sql(sql).fetchall()[0]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- determinism
def test_same_seed_identical_tables(tables):
    again = gen.generate(N, seed=SEED)
    assert set(again) == set(tables)
    for name in tables:
        assert again[name].equals(tables[name]), name


def test_different_seed_differs(tables):
    other = gen.generate(N, seed=SEED + 1)
    for name in ("customers", "transactions", "events", "subscriptions", "customer_types"):
        assert not other[name].equals(tables[name]), name


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_files_byte_identical(tmp_path, fmt):
    a = gen.write(gen.generate(400, seed=3), tmp_path / "a", fmt)
    b = gen.write(gen.generate(400, seed=3), tmp_path / "b", fmt)
    c = gen.write(gen.generate(400, seed=4), tmp_path / "c", fmt)
    assert set(a) == set(gen.TABLE_NAMES)
    for name in a:
        assert a[name].name == f"{name}.{fmt}"
        assert _sha(a[name]) == _sha(b[name]), name
    assert _sha(a["transactions"]) != _sha(c["transactions"])


# -------------------------------------------------------------------- schemas
def test_table_names_and_columns(tables):
    assert set(tables) == set(gen.TABLE_NAMES)
    for name, cols in EXPECTED_COLUMNS.items():
        assert tables[name].column_names == cols, name
        assert tables[name].schema.equals(gen.SCHEMAS[name]), name


def test_dtypes(tables):
    ts = pa.timestamp("s")
    s = tables["customers"].schema
    assert s.field("signed_up_at").type == ts
    assert all(s.field(c).type == pa.string() for c in EXPECTED_COLUMNS["customers"] if c != "signed_up_at")
    s = tables["transactions"].schema
    assert s.field("transacted_at").type == ts
    assert s.field("amount").type == pa.float64()
    assert s.field("quantity").type == pa.int32()
    s = tables["events"].schema
    assert s.field("event_at").type == ts
    assert s.field("value").type == pa.float64()
    assert s.field("object_id").type == pa.string()
    s = tables["subscriptions"].schema
    assert s.field("monthly_amount").type == pa.float64()
    assert s.field("started_at").type == ts and s.field("ended_at").type == ts
    assert s.field("is_churned").type == pa.bool_()


def test_no_unexpected_nulls(tables):
    nullable = {("events", "object_id"), ("events", "value"), ("events", "properties"),
                ("subscriptions", "ended_at"), ("subscriptions", "end_reason")}
    for name, t in tables.items():
        for col in t.column_names:
            if (name, col) not in nullable:
                assert t[col].null_count == 0, (name, col)


def test_categorical_domains(dfs):
    c = dfs["customers"]
    assert set(c["region"]) <= {"Europe", "North America", "Asia", "Africa", "South America", "Oceania"}
    assert set(c["age_group"]) == {"18-24", "25-34", "35-44", "45-54", "55+"}
    assert set(c["gender"]) == {"Female", "Male", "Non-binary"}
    assert {"Student", "Software Engineer", "Teacher", "Data Analyst", "Manager",
            "Designer", "Healthcare", "Other"} == set(c["occupation"])
    assert set(c["referral_channel"]) == {"organic_search", "paid_search", "social", "referral",
                                          "email", "partner"}
    assert c.groupby("country")["region"].nunique().max() == 1
    t = dfs["transactions"]
    assert set(t["channel"]) == {"web", "mobile_app", "partner", "affiliate"}
    assert set(t["product_category"]) == {"Data Science", "Programming", "Design", "Business",
                                          "Marketing", "Language", "Music", "Photography"}
    assert t["product_id"].str.fullmatch(r"P\d{3}").all()
    assert t["creator_id"].str.fullmatch(r"CR\d{2}").all()
    assert 50 <= t["product_id"].nunique() <= 60
    # a product always has one category and one creator
    assert t.groupby("product_id")[["product_category", "creator_id"]].nunique().max().max() == 1
    assert set(dfs["events"]["event_name"]) == {
        "signed_up", "enrolled_in_course", "video_watched", "quiz_submitted",
        "completed_course", "support_contact", "nps_answered", "session_started"}
    s = dfs["subscriptions"]
    assert set(s["plan_level"]) == {"Basic", "Standard", "Premium"}
    assert set(s["plan_type"]) == {"monthly", "annual"}
    assert set(s["end_reason"].dropna()) == {"upgrade", "downgrade", "cancel"}
    assert set(dfs["customer_types"]["customer_type"]) == set(gen.CUSTOMER_TYPES)


# ----------------------------------------------------------------------- keys
def test_keys_unique_formatted_and_sorted(dfs):
    for name, key, pattern in [
        ("customers", "customer_id", r"C\d{6}"),
        ("customer_types", "customer_id", r"C\d{6}"),
        ("transactions", "transaction_id", r"T\d{8}"),
        ("subscriptions", "subscription_id", r"S\d{7}"),
    ]:
        col = dfs[name][key]
        assert col.is_unique, name
        assert col.str.fullmatch(pattern).all(), name
        assert col.is_monotonic_increasing, name
    assert len(dfs["customers"]) == N
    ev = dfs["events"]
    assert ev["customer_id"].is_monotonic_increasing
    assert ev.groupby("customer_id")["event_at"].apply(lambda s: s.is_monotonic_increasing).all()


def test_transaction_ids_follow_time(dfs):
    assert dfs["transactions"]["transacted_at"].is_monotonic_increasing


def test_customer_id_width_grows_with_size():
    t = gen.generate(3, seed=1)
    assert t["customers"]["customer_id"].to_pylist() == ["C000001", "C000002", "C000003"]


# ------------------------------------------------------- referential integrity
def test_referential_integrity(dfs):
    ids = set(dfs["customers"]["customer_id"])
    assert set(dfs["customer_types"]["customer_id"]) == ids
    for name in ("transactions", "events", "subscriptions"):
        assert set(dfs[name]["customer_id"]) <= ids, name
    products = set(dfs["transactions"]["product_id"])
    assert set(dfs["events"]["object_id"].dropna()) <= products | {f"P{i:03d}" for i in range(1, 61)}


def test_timestamps_inside_period(dfs):
    for name, col in [("customers", "signed_up_at"), ("transactions", "transacted_at"),
                      ("events", "event_at"), ("subscriptions", "started_at"),
                      ("subscriptions", "ended_at")]:
        s = dfs[name][col].dropna()
        assert s.min() >= START and s.max() <= END, (name, col)


def test_signup_before_first_transaction_and_events(con):
    bad_tx = _one(con, """
        select count(*) from customers c
        join (select customer_id, min(transacted_at) t from transactions group by 1) f using (customer_id)
        where c.signed_up_at > f.t""")[0]
    assert bad_tx == 0
    bad_ev = _one(con, """
        select count(*) from events e join customers c using (customer_id)
        where e.event_at < c.signed_up_at""")[0]
    assert bad_ev == 0
    bad_sub = _one(con, """
        select count(*) from subscriptions s join customers c using (customer_id)
        where s.started_at < c.signed_up_at""")[0]
    assert bad_sub == 0


def test_one_signed_up_event_per_customer(con):
    rows = _one(con, """
        select count(*), count(distinct e.customer_id),
               count(*) filter (where e.event_at = c.signed_up_at),
               count(*) filter (where e.properties like '%' || c.referral_channel || '%')
        from events e join customers c using (customer_id)
        where e.event_name = 'signed_up'""")
    assert rows == (N, N, N, N)


def test_share_without_transactions(dfs):
    buyers = dfs["transactions"]["customer_id"].nunique()
    share = 1 - buyers / N
    assert 0.02 <= share <= 0.09


# --------------------------------------------------------------- transactions
def test_amounts_and_quantities(dfs):
    t = dfs["transactions"]
    assert (np.round(t["amount"], 2) == t["amount"]).all()
    assert (t["amount"] != 0).all()
    assert (t["quantity"] >= 1).all()
    assert (t["quantity"] == 1).mean() > 0.9


def test_refunds_follow_a_purchase(con, dfs):
    t = dfs["transactions"]
    share = (t["amount"] < 0).mean()
    assert 0.003 <= share <= 0.025
    unmatched = _one(con, """
        select count(*) from transactions r
        where r.amount < 0 and not exists (
            select 1 from transactions p
            where p.customer_id = r.customer_id and p.product_id = r.product_id
              and p.amount = -r.amount and p.transacted_at < r.transacted_at)""")[0]
    assert unmatched == 0


def test_same_day_multiple_purchases_exist(con):
    n = _one(con, """
        select count(*) from (
            select customer_id, cast(transacted_at as date) d from transactions
            where amount > 0 group by 1, 2 having count(*) > 1)""")[0]
    assert n > 0.02 * N


def test_product_popularity_skew(dfs):
    counts = dfs["transactions"].query("amount > 0")["product_id"].value_counts()
    assert counts.iloc[:5].sum() > 0.25 * counts.sum()
    assert counts.iloc[0] > 10 * counts.iloc[-1]


def test_category_cross_sell(con):
    # customers who buy Programming are much more likely to also buy Data Science
    lift = _one(con, """
        with cats as (select distinct customer_id, product_category c from transactions where amount > 0),
        per as (select customer_id,
                       bool_or(c = 'Programming') prog, bool_or(c = 'Data Science') ds,
                       bool_or(c = 'Music') music
                from cats group by 1)
        select avg(ds::int) filter (where prog) / avg(ds::int) filter (where not prog),
               avg(music::int) filter (where prog) / avg(music::int) filter (where not prog)
        from per""")
    assert lift[0] > 1.5
    assert lift[0] > lift[1]


# --------------------------------------------------------------------- events
def test_event_values(dfs):
    ev = dfs["events"]
    quiz = ev.loc[ev["event_name"] == "quiz_submitted", "value"]
    nps = ev.loc[ev["event_name"] == "nps_answered", "value"]
    assert quiz.between(0, 100).all() and nps.between(0, 10).all()
    assert (nps == nps.round()).all()
    for name in ("video_watched", "session_started"):
        v = ev.loc[ev["event_name"] == name, "value"]
        assert v.notna().all() and (v > 0).all()
    for name in ("enrolled_in_course", "completed_course", "quiz_submitted", "video_watched"):
        assert ev.loc[ev["event_name"] == name, "object_id"].notna().all(), name
    for name in ("signed_up", "session_started", "support_contact", "nps_answered"):
        assert ev.loc[ev["event_name"] == name, "object_id"].isna().all(), name
    assert ev.loc[ev["event_name"] == "support_contact", "properties"].notna().all()


def test_enrolments_follow_a_purchase(con):
    bad = _one(con, """
        select count(*) from events e
        where e.event_name = 'enrolled_in_course' and not exists (
            select 1 from transactions t
            where t.customer_id = e.customer_id and t.product_id = e.object_id
              and t.amount > 0 and t.transacted_at <= e.event_at)""")[0]
    assert bad == 0
    dup = _one(con, """
        select count(*) from (select customer_id, object_id from events
        where event_name = 'enrolled_in_course' group by 1, 2 having count(*) > 1)""")[0]
    assert dup == 0


def test_completions_only_after_enrolment(con):
    never, early, total = _one(con, """
        with enr as (select customer_id, object_id, min(event_at) t from events
                     where event_name = 'enrolled_in_course' group by 1, 2)
        select count(*) filter (where enr.t is null),
               count(*) filter (where c.event_at < enr.t),
               count(*)
        from events c left join enr using (customer_id, object_id)
        where c.event_name = 'completed_course'""")
    assert never == 0
    assert total > 0
    all_events = _one(con, "select count(*) from events")[0]
    assert early / all_events < 0.005
    # a share of enrolments is never completed
    enrolled = _one(con, "select count(*) from events where event_name = 'enrolled_in_course'")[0]
    assert total < 0.8 * enrolled


def test_quizzes_on_enrolled_courses(con):
    bad = _one(con, """
        select count(*) from events q
        where q.event_name = 'quiz_submitted' and not exists (
            select 1 from events e where e.event_name = 'enrolled_in_course'
              and e.customer_id = q.customer_id and e.object_id = q.object_id
              and e.event_at <= q.event_at)""")[0]
    assert bad == 0


# -------------------------------------------------------------- subscriptions
def test_subscription_periods(dfs):
    s = dfs["subscriptions"].sort_values(["customer_id", "started_at", "subscription_id"])
    share = s["customer_id"].nunique() / N
    assert 0.45 <= share <= 0.75
    assert (s["is_churned"] == (s["end_reason"] == "cancel")).all()
    assert (s["ended_at"].isna() == s["end_reason"].isna()).all()
    assert (s["ended_at"].dropna() > s.loc[s["ended_at"].notna(), "started_at"]).all()
    amounts = {("Basic", "monthly"): 9.99, ("Standard", "monthly"): 19.99, ("Premium", "monthly"): 39.99,
               ("Basic", "annual"): 8.33, ("Standard", "annual"): 16.66, ("Premium", "annual"): 33.33}
    assert all(amounts[(lvl, pt)] == amt for lvl, pt, amt in
               s[["plan_level", "plan_type", "monthly_amount"]].itertuples(index=False))

    rank = {"Basic": 0, "Standard": 1, "Premium": 2}
    nxt = s.groupby("customer_id").shift(-1)
    has_next = nxt["started_at"].notna()
    # only the last period of a customer may be open; periods never overlap
    assert s.loc[has_next, "ended_at"].notna().all()
    assert (nxt.loc[has_next, "started_at"] >= s.loc[has_next, "ended_at"]).all()
    # tier changes are contiguous and move in the right direction
    for reason, step in (("upgrade", 1), ("downgrade", -1)):
        m = s["end_reason"] == reason
        assert has_next[m].all(), reason
        assert (nxt.loc[m, "started_at"] == s.loc[m, "ended_at"]).all(), reason
        delta = nxt.loc[m, "plan_level"].map(rank) - s.loc[m, "plan_level"].map(rank)
        assert (delta == step).all(), reason
    # a cancel may be followed by a later reactivation
    m = (s["end_reason"] == "cancel") & has_next
    assert m.any()
    assert (nxt.loc[m, "started_at"] > s.loc[m, "ended_at"]).all()


# -------------------------------------------------------------- hidden types
def test_type_shares(dfs):
    shares = dfs["customer_types"]["customer_type"].value_counts(normalize=True)
    expected = {"loyal_high_spender": 0.12, "regular": 0.25, "bargain_hunter": 0.20,
                "one_time_buyer": 0.25, "quiet_churner": 0.18}
    for t, p in expected.items():
        assert abs(shares[t] - p) < 0.04, t


def test_hidden_types_separate(features):
    f = features
    m = f.groupby("customer_type").mean(numeric_only=True)
    loyal, one, bargain, churn, reg = (m.loc[t] for t in (
        "loyal_high_spender", "one_time_buyer", "bargain_hunter", "quiet_churner", "regular"))
    assert loyal.spend > 3 * one.spend
    assert loyal.spend > 2 * reg.spend > 0
    assert loyal.n_purchases > reg.n_purchases > churn.n_purchases > one.n_purchases
    assert bargain.n_purchases > reg.n_purchases
    # one-time buyers make exactly one purchase
    assert (f.loc[f.customer_type == "one_time_buyer", "n_purchases"] == 1).all()
    # bargain hunters buy cheap
    avg_ticket = m.spend / m.n_purchases
    assert avg_ticket["bargain_hunter"] < 0.6 * avg_ticket["regular"]
    # engagement
    assert loyal.watch_minutes > 2 * max(reg.watch_minutes, bargain.watch_minutes, churn.watch_minutes)
    assert loyal.completion_rate > reg.completion_rate > bargain.completion_rate
    assert loyal.quiz_score > reg.quiz_score > churn.quiz_score
    assert loyal.nps > reg.nps > churn.nps
    assert churn.support_contacts > 2 * loyal.support_contacts
    # recency: churners and one-time buyers went silent long ago
    assert churn.event_recency_days > 5 * loyal.event_recency_days
    assert one.recency_days > 5 * loyal.recency_days
    # subscriptions: loyal customers are Premium and rarely churn
    assert loyal.max_tier > reg.max_tier > bargain.max_tier
    churned = f.groupby("customer_type")["churned"].apply(lambda s: s.dropna().astype(bool).mean())
    assert churned["quiet_churner"] > 0.9 > 0.3 > churned["loyal_high_spender"]


def test_types_overlap(features):
    # realistic noise: distributions overlap, they are not trivially separable
    spend = features.groupby("customer_type")["spend"]
    assert spend.quantile(0.9)["regular"] > spend.quantile(0.1)["loyal_high_spender"]
    assert spend.quantile(0.9)["quiet_churner"] > spend.quantile(0.25)["regular"]


def test_scales_per_customer():
    """Row counts grow with customers at a stable per-customer rate."""
    small = gen.generate(600, seed=11)
    big = gen.generate(2400, seed=11)
    for name, lo, hi in (("transactions", 14, 26), ("events", 38, 62)):
        r_small = small[name].num_rows / 600
        r_big = big[name].num_rows / 2400
        assert lo <= r_big <= hi, (name, r_big)
        assert abs(r_small - r_big) / r_big < 0.25, name


def test_custom_period():
    t = gen.generate(300, seed=5, start="2022-03-01", end="2022-12-31")
    for name, col in (("customers", "signed_up_at"), ("transactions", "transacted_at"), ("events", "event_at")):
        s = t[name][col].to_pandas()
        assert s.min() >= pd.Timestamp("2022-03-01") and s.max() <= pd.Timestamp("2022-12-31 23:59:59")
    with pytest.raises(ValueError):
        gen.generate(10, start="2024-01-01", end="2024-01-10")
    with pytest.raises(ValueError):
        gen.generate(0)


# ------------------------------------------------------------------ writing
def test_write_csv_format(tmp_path, tables):
    paths = gen.write(tables, tmp_path, "csv")
    header = paths["transactions"].read_text().splitlines()[0]
    assert header == ",".join(EXPECTED_COLUMNS["transactions"])
    tx = pd.read_csv(paths["transactions"], dtype=str)
    assert tx["transacted_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert tx["amount"].str.fullmatch(r"-?\d+\.\d{2}").all()
    subs = pd.read_csv(paths["subscriptions"], dtype=str, keep_default_na=False)
    assert subs["monthly_amount"].str.fullmatch(r"\d+\.\d{2}").all()
    assert (subs.loc[subs["end_reason"] == "", "ended_at"] == "").all()
    # round trip through DuckDB keeps counts and values
    with duckdb.connect() as c:
        for name, path in paths.items():
            n = _one(c, f"select count(*) from read_csv('{path}')")[0]
            assert n == tables[name].num_rows, name
        total = _one(c, f"select round(sum(amount), 2) from read_csv('{paths['transactions']}')")[0]
    assert total == pytest.approx(float(np.round(tables["transactions"]["amount"].to_numpy().sum(), 2)))
    props = pd.read_csv(paths["events"], dtype=str)["properties"].dropna()
    assert props.str.startswith("{").all()


def test_write_parquet_roundtrip(tmp_path, tables):
    paths = gen.write(tables, tmp_path, "parquet")
    for name, path in paths.items():
        back = pq.read_table(path)
        assert back.column_names == tables[name].column_names
        # Parquet has no second unit: timestamps come back as ms, same instants
        assert back.cast(gen.SCHEMAS[name]).equals(tables[name]), name
    with duckdb.connect() as c:
        rows = c.sql(f"describe select * from read_parquet('{paths['events']}')").fetchall()
    types = {r[0]: r[1] for r in rows}
    assert types["event_at"] == "TIMESTAMP" and types["value"] == "DOUBLE"


def test_write_accepts_pandas(tmp_path, dfs):
    paths = gen.write({"customers": dfs["customers"]}, tmp_path, "csv")
    assert paths["customers"].exists()
    with pytest.raises(ValueError):
        gen.write({"customers": dfs["customers"]}, tmp_path, "xlsx")


# ---------------------------------------------------------------------- CLI
def test_cli_writes_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert gen.main(["--customers", "300", "--seed", "9", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{n}.csv" for n in gen.TABLE_NAMES)
    err = capsys.readouterr().err
    assert re.search(r"transactions\s+[\d,]+ rows\s+[\d.]+s", err)
    assert "total" in err
    expected = gen.write(gen.generate(300, seed=9), tmp_path / "api", "csv")
    for name, path in expected.items():
        assert _sha(path) == _sha(out / path.name), name


def test_cli_parquet(tmp_path):
    out = tmp_path / "pq"
    assert gen.main(["--customers", "200", "--out", str(out), "--format", "parquet"]) == 0
    assert pq.read_table(out / "customers.parquet").num_rows == 200


def test_default_size_is_commit_friendly():
    assert gen.DEFAULT_CUSTOMERS <= 5000
