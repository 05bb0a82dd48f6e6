"""Trial results -> ``cv_results_`` (GridSearchCV's keys) and ``leaderboard_``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def cv_results(results, weights=None):
    """Build ``cv_results_`` with :class:`~sklearn.model_selection.GridSearchCV`'s keys.

    Keys: ``params``, ``param_<name>`` (masked arrays: masked where a trial
    has no such parameter), ``split<k>_test_score``, ``mean_test_score``,
    ``std_test_score``, ``rank_test_score``, ``mean_fit_time``,
    ``std_fit_time``, ``mean_score_time``, ``std_score_time``, plus
    ``status``, ``iter`` (fidelity rung), ``n_resources`` (epochs the config
    was given), ``epochs_run``, ``error``, ``trial_id`` and ``origin``
    (``"portfolio"``, ``"searcher"`` or ``"promotion"``). Rows follow the
    trial ids. Failed trials score ``nan`` and rank last.
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
    out["trial_id"] = np.array([r.trial_id for r in results], dtype=np.int64)
    out["ensemble_weight"] = np.array(
        [(weights or {}).get(r.trial_id, 0.0) for r in results], dtype=float)
    out["origin"] = np.array([r.origin for r in results], dtype=object)
    return out


def leaderboard(results, weights=None):
    """One row per trial, best first: rank, score, epochs, seconds, status, params."""
    rows = []
    for r in results:
        rows.append({
            "trial": r.trial_id,
            "score": r.score if r.ok else np.nan,
            "std_score": float(np.std(r.split_scores)) if r.ok else np.nan,
            "status": r.status,
            "epochs": r.epochs,
            "epochs_run": r.epochs_run,
            "fit_time": r.fit_time,
            "stopped_by_budget": r.stopped_by_budget,
            "pruned": r.pruned,
            "rung": r.rung,
            "rows": r.rows,
            "parent": r.parent_id,
            "origin": r.origin,
            "ensemble_weight": (weights or {}).get(r.trial_id, 0.0),
            "worker": r.worker,
            "device": r.device,
            "error": r.error,
            **r.config,
        })
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df.insert(0, "rank", rankdata(-df["score"].fillna(-np.inf), method="min")
              .astype(int))
    return df.sort_values(["rank", "trial"], kind="stable").reset_index(drop=True)


def plot_search(estimator, params=None, max_params=4):
    """Plot a fitted estimator's search: best score over time, and scores by parameter.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    params : list of str, optional
        Numeric parameters to plot scores against; by default the searched
        numeric ones (up to ``max_params``).
    max_params : int, default=4

    Returns
    -------
    fig : matplotlib.figure.Figure
        First panel: the running best validation score against cumulative
        training seconds (trials in the order they ran; failed trials are
        marked with an x). Other panels: each trial's score against one
        parameter (log axes for learning rate and weight decay).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_search needs matplotlib: pip install 'skautodl[bench]' or "
            "pip install matplotlib"
        ) from exc
    res = estimator.cv_results_
    scores = np.asarray(res["mean_test_score"], dtype=float)
    seconds = np.cumsum(np.asarray(res["mean_fit_time"]) *
                        np.maximum(1, _n_splits(res)))
    if params is None:
        params = []
        for key in sorted(res):
            if not key.startswith("param_"):
                continue
            values = [v for v in np.ma.getdata(res[key]) if v is not None]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                          for v in values)
            if numeric and len(set(values)) > 1:
                params.append(key[len("param_"):])
        params = params[:max_params]
    fig, axes = plt.subplots(1, 1 + len(params),
                             figsize=(4.5 * (1 + len(params)), 3.6), squeeze=False)
    ax = axes[0, 0]
    best = np.fmax.accumulate(np.where(np.isnan(scores), -np.inf, scores))
    best = np.where(np.isinf(best), np.nan, best)
    ax.step(seconds, best, where="post", label="best so far")
    ok = ~np.isnan(scores)
    ax.scatter(seconds[ok], scores[ok], s=12, alpha=0.6, label="trial")
    if (~ok).any():
        low = np.nanmin(scores) if ok.any() else 0.0
        ax.scatter(seconds[~ok], np.full((~ok).sum(), low), marker="x",
                   color="red", label="failed")
    ax.set_xlabel("cumulative training seconds")
    ax.set_ylabel("validation score")
    ax.set_title(f"{type(estimator).__name__}: {len(scores)} trials")
    ax.legend(loc="lower right", fontsize=8)
    for ax, name in zip(axes[0, 1:], params, strict=True):
        values = np.array([np.nan if v is None else v
                           for v in np.ma.filled(res[f"param_{name}"], None)],
                          dtype=float)
        ax.scatter(values[ok], scores[ok], s=14, alpha=0.7)
        if name in ("lr", "optimizer__weight_decay"):
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("validation score")
    fig.tight_layout()
    return fig


def _n_splits(res):
    return sum(1 for k in res if k.startswith("split") and k.endswith("_test_score"))


def compare(old, new, X, y, *, verbose=True):
    """Compare two fitted estimators (say last month's model and its
    warm-started successor) on the same held-out ``X, y``.

    Parameters
    ----------
    old, new : fitted AutoDLClassifier or AutoDLRegressor
    X, y : held-out data both can predict
    verbose : bool, default=True
        Print the table and the leaderboard differences.

    Returns
    -------
    table : pandas.DataFrame
        One row per figure (the test score with each estimator's ``scoring``
        or its default, log loss for classifiers, best validation score,
        trials, ensemble members, network parameters, size of the safe file
        in bytes, ``predict`` milliseconds per 1,000 rows of ``X`` (timed
        in turns, as :func:`skautodl.compression.compress` times them),
        best trial's family),
        columns ``old``, ``new`` and ``change`` (new minus old where
        numeric). ``table.attrs["best_params_changed"]`` maps each
        parameter of the best configuration that differs to its ``(old,
        new)`` values.

    Examples
    --------
    >>> from skautodl.report import compare
    >>> table = compare(model_2026_11, model_2026_12, X_test, y_test)  # doctest: +SKIP
    """
    from sklearn.metrics import get_scorer, log_loss

    # the measurements compress() reports, taken the same way
    from skautodl.compression import _file_bytes, _latencies, _nets, count_parameters

    latency = dict(zip(("old", "new"), _latencies([old, new], X), strict=True))

    def figures(est, which):
        scoring = est.scoring if isinstance(est.scoring, str) else None
        name = scoring or est._default_scoring
        row = {f"test {name}": float(get_scorer(name)(est, X, y))}
        if hasattr(est, "predict_proba"):
            row["test log_loss"] = float(log_loss(y, est.predict_proba(X),
                                                  labels=est.classes_))
        row.update({
            "best validation score": float(est.best_score_),
            "trials": int(est.n_trials_),
            "ensemble members": len(est.ensemble_),
            "network parameters": int(sum(count_parameters(net.module_)[0]
                                          for _, net in _nets(est))),
            "file bytes": _saved_bytes(est, _file_bytes),
            "predict ms per 1k rows": latency[which],
            "best family": est.best_params_.get("family"),
        })
        return row

    a, b = figures(old, "old"), figures(new, "new")
    index = list(dict.fromkeys([*a, *b]))
    table = pd.DataFrame({"old": [a.get(k) for k in index],
                          "new": [b.get(k) for k in index]}, index=index)
    table["change"] = [
        (nv - ov) if isinstance(ov, int | float) and isinstance(nv, int | float)
        else ("" if ov == nv else "changed")
        for ov, nv in zip(table["old"], table["new"], strict=True)]
    keys = sorted(set(old.best_params_) | set(new.best_params_), key=str)
    changed = {k: (old.best_params_.get(k), new.best_params_.get(k)) for k in keys
               if old.best_params_.get(k) != new.best_params_.get(k)}
    table.attrs["best_params_changed"] = changed
    if verbose:
        print(table.to_string())
        if changed:
            print("best configuration changed:")
            for k, (ov, nv) in changed.items():
                print(f"  {k}: {ov!r} -> {nv!r}")
        else:
            print("best configuration unchanged")
        families = pd.DataFrame({
            "old": old.leaderboard_.get("family", pd.Series(dtype=object))
            .value_counts(),
            "new": new.leaderboard_.get("family", pd.Series(dtype=object))
            .value_counts()}).fillna(0).astype(int)
        print("trials by family:")
        print(families.to_string())
    return table


def _saved_bytes(estimator, file_bytes):
    """Size of ``estimator``'s safe file (NaN when it cannot be saved safely)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        size = file_bytes(estimator, tmp, "model.skautodl")
    return np.nan if size is None else size
