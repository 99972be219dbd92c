"""A card-transaction simulator: customers, terminals, days of spending, and fraud scenarios.

Customers live at a place, spend with a personal mean and spread, a few times a day, at terminals
near them. Fraud comes from two scenarios:
- compromised terminals: for 28 days every transaction at the terminal is fraudulent (its amounts
  look normal; only the terminal's fraud history, known a week late, gives it away);
- compromised cards: for 14 days a third of the card's transactions are taken over with unusual
  amounts, and fraudsters add bursts of large purchases at far-away terminals within an hour.
The file is time-ordered, with engineered features computed from the past only (no look-ahead):
customer spending windows, time since the last transaction, distance, and terminal risk delayed by
the 7 days that fraud labels take to arrive.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeward.train.fraud.config import FraudSimConfig

START = np.datetime64("2026-01-01T00:00:00")
DAY = 86_400
LABEL = "is_fraud"


def simulate(config: FraudSimConfig = FraudSimConfig()):
    """The transactions as a pandas DataFrame, time-ordered, with features and the label."""
    import pandas as pd

    rng = np.random.default_rng(config.seed)
    n_cust = max(20, int(round(config.rows / (config.days * 2.0))))
    n_term = max(20, 2 * n_cust)
    cust_xy = rng.uniform(0, 100, (n_cust, 2))
    cust_mean = rng.uniform(5, 100, n_cust)
    cust_std = cust_mean / 2
    cust_rate = rng.uniform(0, 4, n_cust)
    term_xy = rng.uniform(0, 100, (n_term, 2))

    # terminals within reach of each customer (at least the nearest one), padded
    dist = np.linalg.norm(cust_xy[:, None, :] - term_xy[None, :, :], axis=2)
    near = dist < config.radius
    near[np.arange(n_cust), dist.argmin(1)] = True
    n_near = near.sum(1)
    order = np.argsort(~near, axis=1, kind="stable")[:, : n_near.max()]

    counts = rng.poisson(cust_rate[:, None], (n_cust, config.days))
    cust = np.repeat(np.repeat(np.arange(n_cust), config.days), counts.ravel())
    day = np.repeat(np.tile(np.arange(config.days), n_cust), counts.ravel())
    n = len(cust)
    second = np.clip(rng.normal(DAY / 2, 20_000, n), 0, DAY - 1).astype(np.int64)
    amount = np.abs(rng.normal(cust_mean[cust], cust_std[cust]))
    term = order[cust, (rng.random(n) * n_near[cust]).astype(np.int64)]
    fraud = np.zeros(n, dtype=np.int8)
    t = day.astype(np.int64) * DAY + second

    # scenario 1: compromised terminals, 28 days of fraud at each
    n_tc = rng.poisson(config.terminal_compromise_per_day * n_term / 1000 * config.days)
    for term_id, d0 in zip(rng.integers(0, n_term, n_tc), rng.integers(0, config.days, n_tc)):
        fraud[(term == term_id) & (day >= d0) & (day < d0 + 28)] = 1

    # scenario 2: compromised cards, 14 days; a third of the transactions with 2-6x amounts
    n_cc = rng.poisson(config.card_compromise_per_day * n_cust / 1000 * config.days)
    burst = {"cust": [], "t": [], "amount": [], "term": []}
    for cust_id, d0 in zip(rng.integers(0, n_cust, n_cc), rng.integers(0, config.days, n_cc)):
        window = np.flatnonzero((cust == cust_id) & (day >= d0) & (day < d0 + 14))
        taken = window[rng.random(len(window)) < 1 / 3]
        amount[taken] *= rng.uniform(2, 6, len(taken))
        fraud[taken] = 1
        # a burst of 3-6 large purchases within an hour at terminals far from the customer
        k = rng.integers(3, 7)
        t0 = (d0 + rng.integers(0, 14)) * DAY + rng.integers(0, DAY - 3600)
        burst["cust"] += [cust_id] * k
        burst["t"] += list(t0 + np.sort(rng.integers(0, 3600, k)))
        burst["amount"] += list(rng.uniform(1.5, 4, k) * (cust_mean[cust_id] + 50))
        burst["term"] += list(rng.integers(0, n_term, k))
    cust = np.concatenate([cust, np.asarray(burst["cust"], dtype=np.int64)])
    t = np.concatenate([t, np.asarray(burst["t"], dtype=np.int64)])
    amount = np.concatenate([amount, np.asarray(burst["amount"], dtype=float)])
    term = np.concatenate([term, np.asarray(burst["term"], dtype=np.int64)])
    fraud = np.concatenate([fraud, np.ones(len(burst["cust"]), dtype=np.int8)])
    keep = t < config.days * DAY
    cust, t, amount, term, fraud = cust[keep], t[keep], amount[keep], term[keep], fraud[keep]

    df = pd.DataFrame({
        "ts": pd.to_datetime(START) + pd.to_timedelta(t, unit="s"),
        "customer_id": cust, "terminal_id": term, "amount": np.round(amount, 2), LABEL: fraud,
    }).sort_values(["ts", "customer_id"], kind="stable").reset_index(drop=True)
    df.insert(0, "tx_id", np.arange(len(df)))
    return _features(df, cust_xy, term_xy, config.label_delay_days)


def _features(df, cust_xy, term_xy, delay_days: int):
    out = df[["tx_id", "ts", "customer_id", "terminal_id", "amount"]].copy()
    out["hour"] = df.ts.dt.hour + df.ts.dt.minute / 60
    out["is_weekend"] = (df.ts.dt.weekday >= 5).astype(np.int8)
    out["is_night"] = ((df.ts.dt.hour < 6) | (df.ts.dt.hour >= 22)).astype(np.int8)
    out["distance"] = np.round(np.linalg.norm(cust_xy[df.customer_id] - term_xy[df.terminal_id], axis=1), 3)

    by_cust = df.sort_values(["customer_id", "ts"], kind="stable")
    g = by_cust.groupby("customer_id")
    for days in (1, 7, 30):
        roll = g.rolling(f"{days}D", on="ts")["amount"]
        out.loc[by_cust.index, f"cust_nb_tx_{days}d"] = roll.count().to_numpy()
        out.loc[by_cust.index, f"cust_avg_amount_{days}d"] = np.round(roll.mean().to_numpy(), 3)
    out.loc[by_cust.index, "cust_nb_tx_1h"] = g.rolling("1h", on="ts")["amount"].count().to_numpy()
    gap = g["ts"].diff().dt.total_seconds().fillna(30 * DAY)
    out.loc[by_cust.index, "secs_since_last_tx"] = gap.to_numpy()
    out["amount_ratio_30d"] = np.round(out.amount / out.cust_avg_amount_30d.clip(lower=1.0), 4)

    by_term = df.sort_values(["terminal_id", "ts"], kind="stable")
    gt = by_term.groupby("terminal_id")
    delay = f"{delay_days}D"
    n_delay = gt.rolling(delay, on="ts")[LABEL].count().to_numpy()
    f_delay = gt.rolling(delay, on="ts")[LABEL].sum().to_numpy()
    for days in (1, 7, 30):
        window = f"{days + delay_days}D"
        n_all = gt.rolling(window, on="ts")[LABEL].count().to_numpy()
        f_all = gt.rolling(window, on="ts")[LABEL].sum().to_numpy()
        n_win = n_all - n_delay
        out.loc[by_term.index, f"term_nb_tx_{days}d"] = n_win
        out.loc[by_term.index, f"term_risk_{days}d"] = np.round(np.where(n_win > 0, (f_all - f_delay) / np.maximum(n_win, 1), 0.0), 4)
    out["timestamp"] = df.ts.dt.strftime("%Y-%m-%dT%H:%M:%S")
    out[LABEL] = df[LABEL]
    cols = ["tx_id", "timestamp", "customer_id", "terminal_id"] + [
        c for c in out.columns if c not in ("tx_id", "timestamp", "customer_id", "terminal_id", "ts", LABEL)
    ] + [LABEL]
    return out[cols]


def write_fraud_csv(path: str | os.PathLike, config: FraudSimConfig = FraudSimConfig()) -> dict:
    """Simulate and write the CSV; returns a summary (rows, frauds, fraud rate, path)."""
    df = simulate(config)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    frauds = int(df[LABEL].sum())
    return {"path": str(path), "rows": len(df), "frauds": frauds, "fraud_rate": frauds / len(df),
            "features": [c for c in df.columns if c not in ("tx_id", "timestamp", "customer_id", "terminal_id", LABEL)]}
