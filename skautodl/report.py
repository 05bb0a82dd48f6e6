"""Trial results -> ``cv_results_`` (GridSearchCV's keys) and ``leaderboard_``."""

from __future__ import annotations

import numbers

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


#: the leaderboard's first columns, what ``leaderboard_.head()`` should show;
#: the trial's other figures follow, then its parameters by name
LEADERBOARD_FIRST = ("rank", "trial", "family", "score", "status", "fidelity",
                     "fit_time", "ensemble_weight")


def leaderboard(results, weights=None):
    """One row per trial, best first.

    Parameters
    ----------
    results : list of TrialResult
        The search's trials.
    weights : dict, optional
        ``{trial_id: weight}`` of the ensemble's members.

    Returns
    -------
    pandas.DataFrame
        First the columns of ``LEADERBOARD_FIRST``: ``rank`` (failed trials
        last), ``trial`` (the id of ``cv_results_["trial_id"]``),
        ``family``, ``score`` (mean validation score, NaN when failed),
        ``status``, ``fidelity`` (the epochs the configuration was given,
        ``"27 ep"``, and the training rows when a data-size fidelity rung
        trained on fewer than the others, ``"3 ep, 10,000 rows"``; boosting
        iterations for a tree), ``fit_time`` (seconds) and
        ``ensemble_weight``; then ``std_score``, ``rung``, ``epochs``,
        ``epochs_run``, ``rows``, ``stopped_by_budget``, ``pruned``,
        ``parent``, ``origin``, ``worker``, ``device`` and ``error``; then
        one column per configuration key, sorted by name (NaN where a trial
        has no such key).

    Examples
    --------
    >>> from skautodl.report import leaderboard
    >>> from skautodl.training.trial import TrialResult
    >>> trial = TrialResult(config={"family": "mlp", "lr": 0.01, "max_epochs": 9},
    ...                     status="ok", score=0.9, split_scores=[0.9], rows=800)
    >>> leaderboard([trial])[["rank", "family", "score", "fidelity", "lr"]]
       rank family  score fidelity    lr
    0     1    mlp    0.9     9 ep  0.01
    """
    most_rows = max((r.rows for r in results), default=0)
    rows, names = [], set()
    for r in results:
        params = {k: v for k, v in r.config.items() if k != "family"}
        names.update(params)
        rows.append({
            "trial": r.trial_id,
            "family": r.config.get("family"),
            "score": r.score if r.ok else np.nan,
            "status": r.status,
            "fidelity": _fidelity(r, most_rows),
            "fit_time": r.fit_time,
            "ensemble_weight": (weights or {}).get(r.trial_id, 0.0),
            "std_score": float(np.std(r.split_scores)) if r.ok else np.nan,
            "rung": r.rung,
            "epochs": r.epochs,
            "epochs_run": r.epochs_run,
            "rows": r.rows,
            "stopped_by_budget": r.stopped_by_budget,
            "pruned": r.pruned,
            "parent": r.parent_id,
            "origin": r.origin,
            "worker": r.worker,
            "device": r.device,
            "error": r.error,
            **params,
        })
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df.insert(0, "rank", rankdata(-df["score"].fillna(-np.inf), method="min")
              .astype(int))
    rest = [c for c in df.columns if c not in names and c not in LEADERBOARD_FIRST]
    order = [*LEADERBOARD_FIRST, *rest, *sorted(names)]
    return (df[order].sort_values(["rank", "trial"], kind="stable")
            .reset_index(drop=True))


def _fidelity(result, most_rows):
    """``"27 ep"``, ``"3 ep, 10,000 rows"`` (fewer rows than the others), or
    a tree's ``"200 iter"``."""
    epochs = result.config.get("max_epochs")
    if epochs is None:  # a tree: its boosting iterations
        return f"{result.epochs} iter"
    text = f"{int(epochs)} ep"
    if result.rows and result.rows < most_rows:
        text += f", {result.rows:,} rows"
    return text


#: ``stop_reason_`` in words
_STOP_REASONS = {"time_budget": "time budget used", "n_trials": "n_trials reached",
                 "exhausted": "search space exhausted", "interrupted": "interrupted"}


class SearchSummary:
    """A fitted estimator's search in a few lines (text, or HTML in a notebook).

    Made by the estimators' ``summary()`` method. Its ``repr`` is a short
    text table; Jupyter shows ``_repr_html_``, the same as an HTML table.

    Parameters
    ----------
    title : str
        The estimator's class and its task.
    rows : list of (str, str)
        ``(label, text)``: data, search, validation, best trial, ensemble,
        fit time.
    members : pandas.DataFrame
        The ensemble's members, heaviest first: ``trial``, ``family``,
        ``score`` (the trial's validation score) and ``weight``.

    See Also
    --------
    skautodl.AutoDLClassifier.summary : Summarize a fitted classifier.
    skautodl.AutoDLRegressor.summary : Summarize a fitted regressor.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautodl.report import SearchSummary
    >>> members = pd.DataFrame({"trial": [4], "family": ["mlp"], "score": [0.91],
    ...                         "weight": [1.0]})
    >>> SearchSummary("AutoDLClassifier: binary classification",
    ...               [("data", "200 rows x 5 features")], members)
    AutoDLClassifier: binary classification
      data      200 rows x 5 features
      members   trial 4 (mlp)  weight 1.00  score 0.9100
    """

    def __init__(self, title, rows, members):
        self.title = title
        self.rows = list(rows)
        self.members = members

    @classmethod
    def from_estimator(cls, estimator):
        """Summarize a fitted ``AutoDLClassifier`` or ``AutoDLRegressor``.

        Parameters
        ----------
        estimator : AutoDLClassifier or AutoDLRegressor
            A fitted estimator.

        Returns
        -------
        SearchSummary
            Its task, data, search, validation protocol, best trial and
            ensemble.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            When ``estimator`` is not fitted.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        board = estimator.leaderboard_
        scoring = estimator.scoring
        metric = (scoring if isinstance(scoring, str) else
                  "score" if scoring is not None else estimator._default_scoring)
        chosen = board[board["ensemble_weight"] > 0].sort_values(
            ["ensemble_weight", "trial"], ascending=[False, True], kind="stable")
        members = pd.DataFrame({
            "trial": chosen["trial"].astype(int).to_numpy(),
            "family": chosen["family"].to_numpy(),
            "score": chosen["score"].astype(float).to_numpy(),
            "weight": chosen["ensemble_weight"].astype(float).to_numpy()})
        best = int(estimator.cv_results_["trial_id"][estimator.best_index_])
        n_members = len(estimator.ensemble_)
        ensemble_score = getattr(estimator, "ensemble_score_", estimator.best_score_)
        rows = [
            ("data", _data_text(estimator)),
            ("search", _search_text(estimator, board)),
            ("validation", _validation_text(estimator)),
            ("best trial", f"trial {best} ({estimator.best_params_.get('family')}):"
                           f" {metric} {estimator.best_score_:.4f}"),
            ("ensemble", f"{metric} {ensemble_score:.4f} on the validation rows, "
                         f"{n_members} member{'s' if n_members != 1 else ''}"),
            ("fit time", f"{estimator.fit_time_:.1f}s"),
        ]
        return cls(f"{type(estimator).__name__}: {_task_text(estimator)}", rows,
                   members)

    def _member_lines(self):
        return [f"trial {m.trial} ({m.family})  weight {m.weight:.2f}  "
                f"score {m.score:.4f}" for m in self.members.itertuples()]

    def __repr__(self):
        width = max([len(label) for label, _ in self.rows] + [len("members")]) + 3
        lines = [self.title]
        lines += [f"  {label:<{width}}{text}" for label, text in self.rows]
        lines += [f"  {'members' if i == 0 else '':<{width}}{text}"
                  for i, text in enumerate(self._member_lines())]
        return "\n".join(lines)

    def _repr_html_(self):
        from html import escape

        rows = [(label, escape(text)) for label, text in self.rows]
        if len(self.members):
            rows.append(("members", "<br>".join(escape(t)
                                                for t in self._member_lines())))
        body = "".join(f"<tr><th>{escape(label)}</th><td>{html}</td></tr>"
                       for label, html in rows)
        return ("<div class=\"skautodl-summary\"><style>.skautodl-summary th, "
                ".skautodl-summary td {text-align: left; vertical-align: top; "
                "padding: 1px 8px}</style>"
                f"<strong>{escape(self.title)}</strong><table>{body}</table></div>")


def _task_text(estimator):
    classes = getattr(estimator, "classes_", None)
    if isinstance(classes, list):
        return f"multi-label classification, {len(classes)} labels"
    if classes is not None:
        return ("binary classification" if len(classes) == 2 else
                f"multiclass classification, {len(classes)} classes")
    n_outputs = getattr(estimator, "n_outputs_", 1)
    return "regression" if n_outputs == 1 else \
        f"multi-output regression, {n_outputs} targets"


def _search_text(estimator, board):
    search = estimator.search
    name = search if isinstance(search, str) else type(search).__name__
    fidelity = estimator.fidelity or "full"
    failed = int((board["status"] == "failed").sum()) if len(board) else 0
    pruned = int(board["pruned"].sum()) if len(board) else 0
    counts = [f"{failed} failed"] * bool(failed) + [f"{pruned} pruned"] * bool(pruned)
    limits = []
    if estimator.time_budget is not None:
        limits.append(f"time_budget={estimator.time_budget:g}s")
    if estimator.n_trials is not None:
        limits.append(f"n_trials={estimator.n_trials}")
    reason = estimator.stop_reason_
    return (f"{name}, {fidelity} fidelity: {estimator.n_trials_} trials"
            + (f" ({', '.join(counts)})" if counts else "")
            + f" in {estimator.search_time_:.1f}s, "
            + _STOP_REASONS.get(reason, str(reason))
            + (f" ({', '.join(limits)})" if limits else ""))


def _data_text(estimator):
    n = getattr(estimator, "n_samples_fit_", None)
    rows = "? rows" if n is None else f"{n:,} rows"
    shape = getattr(estimator, "image_shape_", None)
    if shape is not None:
        return f"{rows}: images of {'x'.join(str(d) for d in shape)} (C x H x W)"
    return f"{rows} x {estimator.n_features_in_} features"


def _validation_text(estimator):
    cv = estimator.cv_
    if cv is None:
        text = f"holdout of {estimator.validation_fraction:.0%} of the rows"
    elif isinstance(cv, numbers.Integral):
        text = f"{cv}-fold bagging"
    else:
        text = f"bagging over {cv!r}"
    return text + (' (cv="auto")' if isinstance(estimator.cv, str) else "")


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
