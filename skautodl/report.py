"""Trial results -> ``cv_results_`` (GridSearchCV's keys) and ``leaderboard_``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def cv_results(results):
    """Build ``cv_results_`` with :class:`~sklearn.model_selection.GridSearchCV`'s keys.

    Keys: ``params``, ``param_<name>`` (masked arrays: masked where a trial
    has no such parameter), ``split<k>_test_score``, ``mean_test_score``,
    ``std_test_score``, ``rank_test_score``, ``mean_fit_time``,
    ``std_fit_time``, ``mean_score_time``, ``std_score_time``, plus
    ``status``, ``iter`` (fidelity rung), ``n_resources`` (epochs the config
    was given), ``epochs_run`` and ``error``. Failed trials score ``nan`` and
    rank last.
    """
    n = len(results)
    out = {}
    names = sorted({k for r in results for k in r.config})
    for name in names:
        col = np.ma.MaskedArray(np.empty(n, dtype=object), mask=True)
        for i, r in enumerate(results):
            if name in r.config:
                col[i] = r.config[name]
        out[f"param_{name}"] = col
    out["params"] = [dict(r.config) for r in results]
    n_splits = max((len(r.split_scores) for r in results if r.ok), default=1)
    for k in range(n_splits):
        out[f"split{k}_test_score"] = np.array(
            [r.split_scores[k] if r.ok and k < len(r.split_scores) else np.nan
             for r in results], dtype=float)
    scores = np.array([r.score if r.ok else np.nan for r in results], dtype=float)
    out["mean_test_score"] = scores
    out["std_test_score"] = np.array(
        [np.std(r.split_scores) if r.ok else np.nan for r in results], dtype=float)
    filled = np.where(np.isnan(scores), -np.inf, scores)
    out["rank_test_score"] = rankdata(-filled, method="min").astype(np.int32)
    splits = np.array([max(1, len(r.split_scores)) for r in results], dtype=float)
    fit = np.array([r.fit_time for r in results], dtype=float)
    score_t = np.array([r.score_time for r in results], dtype=float)
    out["mean_fit_time"] = fit / splits
    out["std_fit_time"] = np.zeros(n)
    out["mean_score_time"] = score_t / splits
    out["std_score_time"] = np.zeros(n)
    out["status"] = np.array([r.status for r in results], dtype=object)
    # as in HalvingGridSearchCV: ``iter`` is the fidelity rung, ``n_resources``
    # the epochs the config was given (``max_epochs``)
    out["iter"] = np.array([r.rung for r in results], dtype=np.int64)
    out["n_resources"] = np.array(
        [int(r.config.get("max_epochs", r.epochs_run)) for r in results],
        dtype=np.int64)
    out["epochs_run"] = np.array([r.epochs_run for r in results], dtype=np.int64)
    out["error"] = np.array([r.error for r in results], dtype=object)
    return out


def leaderboard(results):
    """One row per trial, best first: rank, score, epochs, seconds, status, params."""
    rows = []
    for i, r in enumerate(results):
        rows.append({
            "trial": i,
            "score": r.score if r.ok else np.nan,
            "std_score": float(np.std(r.split_scores)) if r.ok else np.nan,
            "status": r.status,
            "epochs": r.epochs,
            "epochs_run": r.epochs_run,
            "fit_time": r.fit_time,
            "stopped_by_budget": r.stopped_by_budget,
            "pruned": r.pruned,
            "rung": r.rung,
            "parent": r.parent_id,
            "worker": r.worker,
            "error": r.error,
            **r.config,
        })
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df.insert(0, "rank", rankdata(-df["score"].fillna(-np.inf), method="min")
              .astype(int))
    return df.sort_values(["rank", "trial"], kind="stable").reset_index(drop=True)
