from __future__ import annotations

import numpy as np
import pandas as pd

from edgeward.app.cli import main
from edgeward.train.fraud.data import LABEL, FraudSimConfig, simulate


def test_default_scale_rate_order_and_seed():
    df = simulate(FraudSimConfig(rows=60_000, days=60))
    assert 55_000 < len(df) < 65_000
    assert 0.002 <= df[LABEL].mean() <= 0.01
    ts = pd.to_datetime(df.timestamp)
    assert ts.is_monotonic_increasing
    assert df.tx_id.tolist() == list(range(len(df)))
    again = simulate(FraudSimConfig(rows=60_000, days=60))
    pd.testing.assert_frame_equal(df, again)
    assert not simulate(FraudSimConfig(rows=60_000, days=60, seed=1)).equals(df)


def test_features_use_the_past_only():
    df = simulate(FraudSimConfig(rows=8_000, days=30, seed=2))
    first = df.groupby("customer_id").head(1)
    assert (first.cust_nb_tx_30d == 1).all()  # a customer's first transaction sees only itself
    # terminal risk is delayed by 7 days: nothing known in the first week
    week1 = pd.to_datetime(df.timestamp) < pd.Timestamp("2026-01-08")
    assert (df.loc[week1, ["term_nb_tx_1d", "term_risk_30d"]] == 0).all().all()
    assert df.notna().all().all()


def test_both_scenarios_present():
    df = simulate(FraudSimConfig(rows=60_000, days=60))
    fraud = df[df[LABEL] == 1]
    assert (fraud.amount_ratio_30d > 2).mean() > 0.2  # card takeovers: unusual amounts
    assert (fraud.term_risk_30d > 0).mean() > 0.1  # compromised terminals: known risk


def test_cli_data(tmp_path, capsys):
    out = tmp_path / "tx.csv"
    assert main(["data", "fraud", str(out), "--rows", "4000", "--days", "20"]) == 0
    assert "transactions" in capsys.readouterr().out
    df = pd.read_csv(out)
    assert df.columns[-1] == LABEL and np.issubdtype(df.amount.dtype, np.floating)
