"""customer_rfm's BTYD values against an independent pandas reference.

Generated demo data (segkit.generate, small) is built with dbt into a temporary
database; the reference below re-derives frequency / recency / T /
monetary_value from the generated CSV files with pandas periods, following
lifetimes' summary_data_from_transaction_data (freq 'D' or 'W', freq_multiplier)
plus the project's refund rule, and the two must agree exactly.

The rules the reference encodes (models/marts/rfm/_rfm__models.yml):
- transactions dated after as_of_date are dropped;
- one row per customer per period (pandas Period 'D', or 'W' = weeks Monday to
  Sunday), spend summed, refunds netted into the period they fall in;
- a purchase is a transaction with amount >= 0 (0.00 = a free item), a refund
  a negative amount; a period is a purchase period when it holds a purchase;
- frequency = purchase periods - 1; recency = last - first period start and
  T = as_of's period start - first period start, in periods, / multiplier;
- monetary_value = (exact sum of the repeat periods' spend) / frequency, 0 when
  frequency is 0; customers without a purchase have nulls.
"""
from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dbt_harness import run_dbt

N_CUSTOMERS = 300
SEED = 7
AS_OF = "2024-09-18"  # a Wednesday: weekly T is truncated to Monday 2024-09-16


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    from segkit.generate import generate, write

    out = tmp_path_factory.mktemp("rfm_demo")
    write(generate(N_CUSTOMERS, seed=SEED), out, "csv")
    return out


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, demo_dir):
    """The workdir of a dbt build of +customer_rfm; later runs rebuild customer_rfm only.
    Built without as_of_date so every input of the as_of_date default is built too."""
    workdir = tmp_path_factory.mktemp("rfm_build")
    result = run_dbt(workdir, vars={"dataset": "files", "input_dir": str(demo_dir)},
                     extra=["--select", "+customer_rfm", "--indirect-selection", "cautious"])
    assert result.returncode == 0, result.output[-4000:]
    return workdir


def load_inputs(demo_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    customers = pd.read_csv(demo_dir / "customers.csv", dtype=str)
    tx = pd.read_csv(demo_dir / "transactions.csv", dtype=str)
    tx["ts"] = pd.to_datetime(tx["transacted_at"])
    # exact cents (the CSV has 2 decimals): no float rounding in the sums
    tx["cents"] = tx["amount"].map(lambda s: int(Decimal(s) * 100))
    return customers, tx


def default_as_of(demo_dir: Path) -> pd.Timestamp:
    """The latest date anywhere in the inputs (the as_of_date default)."""
    dates = [pd.to_datetime(pd.read_csv(demo_dir / "transactions.csv")["transacted_at"]).max(),
             pd.to_datetime(pd.read_csv(demo_dir / "events.csv")["event_at"]).max(),
             pd.to_datetime(pd.read_csv(demo_dir / "customers.csv")["signed_up_at"]).max()]
    subs = pd.read_csv(demo_dir / "subscriptions.csv")
    dates.append(pd.to_datetime(subs["ended_at"]).fillna(pd.to_datetime(subs["started_at"])).max())
    return max(dates).normalize()


def reference_rfm(customers: pd.DataFrame, tx: pd.DataFrame, as_of: pd.Timestamp,
                  freq: str, multiplier: float) -> pd.DataFrame:
    """lifetimes-style summary with the project's refund rule, in pandas."""
    tx = tx[tx["ts"].dt.normalize() <= as_of].copy()
    tx["period"] = tx["ts"].dt.to_period(freq)
    tx["is_purchase"] = tx["cents"] >= 0
    periods = (tx.groupby(["customer_id", "period"])
                 .agg(cents=("cents", "sum"), purchases=("is_purchase", "sum"))
                 .reset_index())
    periods = periods[periods["purchases"] > 0].copy()
    periods["start"] = periods["period"].dt.start_time
    periods["first_start"] = periods.groupby("customer_id")["start"].transform("min")
    by_customer = periods.groupby("customer_id")
    out = pd.DataFrame({
        "n_periods": by_customer.size(),
        "first": by_customer["start"].min(),
        "last": by_customer["start"].max(),
    })
    repeat_cents = (periods[periods["start"] > periods["first_start"]]
                    .groupby("customer_id")["cents"].sum())
    out["repeat_cents"] = repeat_cents.reindex(out.index).fillna(0).astype("int64")
    observation_end = as_of.to_period(freq).start_time
    one_period = np.timedelta64(1, freq)
    out["frequency"] = out["n_periods"] - 1
    out["recency"] = (out["last"] - out["first"]) / one_period / multiplier
    out["T"] = (observation_end - out["first"]) / one_period / multiplier
    # (exact sum / 100) / frequency: the same two roundings as the SQL
    out["monetary_value"] = np.where(out["frequency"] > 0,
                                     (out["repeat_cents"] / 100) / out["frequency"].clip(lower=1), 0.0)
    orders = tx[tx["is_purchase"]].groupby("customer_id")["transaction_id"].nunique()
    total = tx.groupby("customer_id")["cents"].sum()
    # the customers known at the as-of date: signed up by the end of its day, or no sign-up date
    signed_up = pd.to_datetime(customers["signed_up_at"]) if "signed_up_at" in customers else None
    known = customers if signed_up is None else customers[signed_up.isna() | (signed_up.dt.normalize() <= as_of)]
    result = pd.DataFrame(index=pd.Index(known["customer_id"], name="customer_id"))
    result = result.join(out[["frequency", "recency", "T", "monetary_value"]])
    result["orders"] = orders.reindex(result.index).fillna(0).astype("int64")
    result["total_cents"] = total.reindex(result.index).fillna(0).astype("int64")
    return result


def built_rfm(workdir: Path) -> pd.DataFrame:
    """customer_rfm of the partial builds in workdir (a partial build is not
    published: it is read from the build database)."""
    import duckdb

    with duckdb.connect(str(workdir / ".build" / "warehouse.duckdb"), read_only=True) as con:
        df = con.execute(
            "select customer_id, frequency, recency, T, monetary_value, orders, "
            "cast(total_spend * 100 as bigint) as total_cents, as_of_date from customer_rfm").df()
    return df.set_index("customer_id")


def assert_exactly_equal(built: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert sorted(built.index) == sorted(ref.index), "one row per customer"
    built = built.loc[ref.index]
    assert (built["orders"].to_numpy() == ref["orders"].to_numpy()).all()
    assert (built["total_cents"].to_numpy() == ref["total_cents"].to_numpy()).all()
    for column in ["frequency", "recency", "T", "monetary_value"]:
        b = built[column].astype("float64").to_numpy()
        r = ref[column].astype("float64").to_numpy()
        same = (b == r) | (np.isnan(b) & np.isnan(r))
        if not same.all():
            bad = ref.index[~same][:5]
            pytest.fail(f"{column} differs for {list(bad)}: built {b[~same][:5]} vs reference {r[~same][:5]}")


def test_generated_data_has_the_hard_cases(demo_dir):
    """The comparison is only meaningful if the data holds same-day purchases,
    refunds and customers without transactions."""
    customers, tx = load_inputs(demo_dir)
    tx = tx[tx["ts"].dt.normalize() <= pd.Timestamp(AS_OF)]
    day = tx.assign(day=tx["ts"].dt.normalize())
    purchases_per_day = day[day["cents"] >= 0].groupby(["customer_id", "day"]).size()
    assert (purchases_per_day > 1).sum() > 10, "same-day purchases"
    assert (tx["cents"] < 0).sum() > 10, "refunds"
    by_day = day.groupby(["customer_id", "day"])["cents"].agg(["min", "max"])
    assert (by_day["max"] < 0).sum() > 0, "refund-only days"
    assert len(set(customers["customer_id"]) - set(tx["customer_id"])) > 0, "customers without transactions"


@pytest.mark.parametrize(
    "time_unit, multiplier, as_of, freq",
    [
        ("day", 1, AS_OF, "D"),     # lifetimes freq='D'
        ("week", 1, AS_OF, "W"),    # lifetimes freq='W': calendar weeks, whole weeks
        ("day", 7, None, "D"),      # CDNOW convention: daily purchases, days / 7; default as_of
    ],
    ids=["day", "week", "cdnow-days-over-7"],
)
def test_btyd_values_match_reference(warehouse, demo_dir, time_unit, multiplier, as_of, freq):
    dbt_vars = {"dataset": "files", "input_dir": str(demo_dir), "as_of_date": as_of,
                "rfm_time_unit": time_unit, "rfm_freq_multiplier": multiplier}
    result = run_dbt(warehouse, command="run", vars=dbt_vars, extra=["--select", "customer_rfm"])
    assert result.returncode == 0, result.output[-4000:]

    customers, tx = load_inputs(demo_dir)
    as_of_ts = pd.Timestamp(as_of) if as_of else default_as_of(demo_dir)
    ref = reference_rfm(customers, tx, as_of_ts, freq, multiplier)
    built = built_rfm(warehouse)
    assert (pd.to_datetime(built["as_of_date"]) == as_of_ts).all()
    assert_exactly_equal(built, ref)

    purchasers = ref["frequency"].notna()
    assert purchasers.sum() > 100 and (~purchasers).sum() > 0
    if freq == "W":
        # whole weeks, and the weekly collapse merges purchases of one week
        assert all(float(v).is_integer() for v in ref.loc[purchasers, "T"])
    if multiplier == 7:
        assert not all(math.isclose(v, round(v)) for v in ref.loc[purchasers, "recency"])


CDNOW_DIR = Path(__file__).resolve().parents[1] / "data" / "cdnow"


def test_cdnow_convention_reproduces_the_shipped_calibration_summary(tmp_path):
    """rfm_time_unit day + rfm_freq_multiplier 7 on the CDNOW sample, as of the end
    of the 39-week calibration period, gives the summary lifetimes ships (x, t_x,
    T, zbar to 2 decimals; tests/data/cdnow/README.md)."""
    raw = pd.read_csv(CDNOW_DIR / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "customer_id", "date", "cds", "amount"], dtype=str)
    inputs = tmp_path / "cdnow_inputs"
    inputs.mkdir()
    pd.DataFrame({"customer_id": sorted(raw["customer_id"].unique())}).to_csv(inputs / "customers.csv", index=False)
    pd.DataFrame({
        "transaction_id": [f"T{i:05d}" for i in range(len(raw))],
        "customer_id": raw["customer_id"],
        "transacted_at": pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d 00:00:00"),
        "amount": raw["amount"],
    }).to_csv(inputs / "transactions.csv", index=False)

    dbt_vars = {"dataset": "files", "input_dir": str(inputs), "as_of_date": "1997-09-30",
                "rfm_time_unit": "day", "rfm_freq_multiplier": 7}
    result = run_dbt(tmp_path / "cdnow_build", vars=dbt_vars,
                     extra=["--select", "+customer_rfm", "--indirect-selection", "cautious"])
    assert result.returncode == 0, result.output[-4000:]
    built = built_rfm(tmp_path / "cdnow_build")
    built.index = built.index.astype(int)

    shipped = pd.read_csv(CDNOW_DIR / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    assert len(shipped) == len(built) == 2357
    built = built.loc[shipped.index]
    assert (built["frequency"].to_numpy() == shipped["x"].to_numpy()).all()
    for ours, theirs in [("recency", "t_x"), ("T", "T"), ("monetary_value", "zbar")]:
        diff = (built[ours].astype(float) - shipped[theirs]).abs()
        assert diff.max() <= 0.005 + 1e-9, f"{ours} vs {theirs}: max difference {diff.max()}"
    assert int(built["frequency"].sum()) == 2457  # repeat purchase days, README.md
