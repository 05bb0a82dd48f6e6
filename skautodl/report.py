"""Trial results -> ``cv_results_`` (GridSearchCV's keys) and ``leaderboard_``."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def cv_results(results, weights=None):
    """Build ``cv_results_`` with :class:`~sklearn.model_selection.GridSearchCV`'s keys.

    Parameters
    ----------
    results : list of TrialResult
        The search's trials, in trial-id order.
    weights : dict, optional
        ``{trial_id: weight}`` of the ensemble's members.

    Returns
    -------
    dict
        Keys: ``params``, ``param_<name>`` (masked arrays: masked where a
        trial has no such parameter), ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``,
        ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
        ``std_score_time``, plus ``status``, ``iter`` (fidelity rung),
        ``n_resources`` (epochs the config was given), ``epochs_run``,
        ``error``, ``trial_id``, ``ensemble_weight`` and ``origin``
        (``"portfolio"``, ``"searcher"`` or ``"promotion"``). Rows follow
        the trial ids. Failed trials score ``nan`` and rank last.

    Examples
    --------
    >>> from skautodl.report import cv_results
    >>> from skautodl.training.trial import TrialResult
    >>> trial = TrialResult(config={"family": "mlp", "lr": 0.01}, status="ok",
    ...                     score=0.9, split_scores=[0.9])
    >>> results = cv_results([trial])
    >>> results["mean_test_score"], results["rank_test_score"]
    (array([0.9]), array([1], dtype=int32))
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
    from skautodl.persistence import is_multilabel

    classes = getattr(estimator, "classes_", None)
    if is_multilabel(estimator):
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


# ---------------------------------------------------------------------- plots
#: at most this many distinct integer values make a parameter categorical
#: when the search space is not at hand (a loaded model, a custom searcher)
_FEW_VALUES = 6


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skautodl.report's plots need matplotlib: pip install matplotlib "
            "(or the 'plot' extra: pip install 'skautodl[plot]')."
        ) from exc
    return plt


def _axes(ax):
    """``ax``, or the axes of a new figure."""
    if ax is not None:
        return ax
    return _pyplot().subplots(figsize=(6, 4), layout="constrained")[1]


def _trials(estimator):
    """The fitted estimator's leaderboard in trial order."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    return estimator.leaderboard_.sort_values("trial").reset_index(drop=True)


def _family_colours(families):
    """One colour of matplotlib's default cycle per family, in sorted order."""
    cycle = _pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return {f: cycle[i % len(cycle)]
            for i, f in enumerate(sorted(set(families), key=str))}


def _metric(estimator):
    scoring = estimator.scoring
    return (scoring if isinstance(scoring, str) else
            "score" if scoring is not None else estimator._default_scoring)


def plot_search_progress(estimator, ax=None):
    """Plot the best validation score found over the search's time, by family.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator (or one loaded with :func:`skautodl.load`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        A step line of the best score so far over all trials (black), one
        per family (its best so far, in the family's colour), and each
        trial's score as a dot in its family's colour; failed trials are red
        crosses at the bottom. The x axis is the training seconds of the
        trials so far, in the order they started (summed over parallel
        workers and folds).

    See Also
    --------
    plot_search : This panel and the scores by parameter.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.report import plot_search_progress
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=2, cv=None,
    ...     search_space={"max_epochs": 2}, verbose=0, random_state=0).fit(X, y)
    >>> ax = plot_search_progress(clf)
    >>> ax.get_ylabel()
    'validation accuracy'
    """
    board = _trials(estimator)
    ax = _axes(ax)
    seconds = np.cumsum(board["fit_time"].to_numpy(dtype=float))
    scores = board["score"].to_numpy(dtype=float)
    ok = ~np.isnan(scores)
    colours = _family_colours(board["family"])

    def running_best(values):
        best = np.fmax.accumulate(np.where(np.isnan(values), -np.inf, values))
        return np.where(np.isinf(best), np.nan, best)

    for family, colour in colours.items():
        mine = (board["family"] == family).to_numpy()
        ax.step(seconds, running_best(np.where(mine, scores, np.nan)), where="post",
                color=colour, alpha=0.6, linewidth=1, label=f"best {family}")
        ax.scatter(seconds[mine & ok], scores[mine & ok], s=14, color=colour,
                   alpha=0.8)
    ax.step(seconds, running_best(scores), where="post", color="black",
            linewidth=1.8, label="best so far")
    if (~ok).any():
        low = np.nanmin(scores) if ok.any() else 0.0
        ax.scatter(seconds[~ok], np.full((~ok).sum(), low), marker="x", color="red",
                   label="failed")
    ax.set_xlabel("training seconds (trials so far)")
    ax.set_ylabel(f"validation {_metric(estimator)}")
    ax.set_title(f"{type(estimator).__name__}: {len(board)} trials")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def _param_kinds(estimator, names):
    """``{name: "categorical" | "log" | "linear"}``, from the search space's
    dimensions when the estimator still has its searcher, else from the
    values (strings, booleans and a few distinct integers are categories;
    positive numbers spanning 100x or more get a log axis)."""
    from skopt.space import Categorical

    from skautodl.search.space import SearchSpace

    space = getattr(getattr(estimator, "searcher_", None), "space", None)
    kinds = {}
    for name in names:
        dims = ([sub[name] for sub in space.subspaces.values() if name in sub]
                if isinstance(space, SearchSpace) else [])
        values = [v for v in estimator.leaderboard_[name] if not _missing(v)]
        if dims:
            if any(isinstance(d, Categorical) for d in dims):
                kinds[name] = "categorical"
            elif any(getattr(d, "prior", None) == "log-uniform" for d in dims):
                kinds[name] = "log"
            else:
                kinds[name] = "linear"
        elif not all(_is_number(v) for v in values) or (
                all(float(v).is_integer() for v in values)
                and len(set(values)) <= _FEW_VALUES):
            kinds[name] = "categorical"
        elif min(values) > 0 and max(values) >= 100 * min(values):
            kinds[name] = "log"
        else:
            kinds[name] = "linear"
    return kinds


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _missing(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


def _searched(estimator, board):
    """The parameters whose value differs between successful trials: the
    family first, the training settings next, the rest by name."""
    from skautodl.search.space import TRAINING_SPACE

    first = ["family", *TRAINING_SPACE]
    ok = board[board["status"] == "ok"]
    known = set(estimator.best_params_) | {
        k for params in estimator.cv_results_["params"] for k in params}
    varying = [name for name in known if name in ok and
               len({str(v) for v in ok[name] if not _missing(v)}) > 1]
    return sorted(varying, key=lambda n: (first.index(n) if n in first
                                          else len(first), n))


def _plot_parameter(ax, board, name, kind, colours):
    """Each successful trial's score against one parameter."""
    ok = board[(board["status"] == "ok") & board[name].map(
        lambda v: not _missing(v))]
    scores = ok["score"].to_numpy(dtype=float)
    point_colours = [colours[f] for f in ok["family"]]
    if kind == "categorical":
        values = list(ok[name])
        numeric = all(_is_number(v) for v in values)
        categories = sorted(set(values), key=float if numeric else str)
        position = np.array([categories.index(v) for v in values], dtype=float)
        jitter = np.random.RandomState(0).uniform(-0.15, 0.15, len(position))
        ax.scatter(position + jitter, scores, s=14, c=point_colours, alpha=0.8)
        for i in range(len(categories)):
            mean = scores[position == i].mean()
            ax.hlines(mean, i - 0.3, i + 0.3, color="black", linewidth=1.5)
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([f"{v:g}" if numeric else str(v) for v in categories])
        ax.set_xlim(-0.5, len(categories) - 0.5)
    else:
        ax.scatter(ok[name].to_numpy(dtype=float), scores, s=14, c=point_colours,
                   alpha=0.8)
        if kind == "log":
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            # a range under a decade labels its minor ticks: they overlap
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(name)


def plot_search(estimator, params=None, max_params=8, ncols=3):
    """Plot a fitted estimator's search: its progress and scores by parameter.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator (or one loaded with :func:`skautodl.load`).
    params : list of str, optional
        Parameters to plot scores against (``"family"``, ``"lr"``,
        ``"batch_size"``, ``"module__n_units"``...); by default those whose
        value differs between successful trials, the family and the training
        settings first, at most ``max_params``.
    max_params : int, default=8
        The most parameter panels drawn by default.
    ncols : int, default=3
        Panels per row; with the defaults the figure is 11 inches wide, as
        wide as a notebook cell.

    Returns
    -------
    matplotlib.figure.Figure
        First panel: :func:`plot_search_progress`. Then one panel per
        parameter with each successful trial's score (the y axes are
        shared), coloured by family. Categorical parameters (choices of the
        search space such as ``batch_size``, strings, booleans) are drawn as
        categories, one tick each with its mean score as a black bar;
        log-uniform ones (``lr``, ``optimizer__weight_decay``) on a log axis.

    See Also
    --------
    plot_search_progress : The first panel alone.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.report import plot_search
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=3, cv=None,
    ...     search_space={"max_epochs": 2}, verbose=0, random_state=0).fit(X, y)
    >>> fig = plot_search(clf, params=["lr", "batch_size"])
    >>> [ax.get_xlabel() for ax in fig.get_axes()[1:]]
    ['lr', 'batch_size']
    """
    board = _trials(estimator)
    plt = _pyplot()
    if params is None:
        params = _searched(estimator, board)[:max_params]
    unknown = [p for p in params if p not in board]
    if unknown:
        raise ValueError(f"plot_search: no trial has the parameter(s) {unknown}; "
                         f"the trials have {sorted(estimator.best_params_)}.")
    n_panels = 1 + len(params)
    ncols = max(1, min(int(ncols), n_panels))
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.7 * ncols, 3.0 * nrows),
                             squeeze=False, sharey=True)
    axes = axes.ravel()
    plot_search_progress(estimator, ax=axes[0])
    colours = _family_colours(board["family"])
    kinds = _param_kinds(estimator, params)
    for ax, name in zip(axes[1:], params, strict=False):
        _plot_parameter(ax, board, name, kinds[name], colours)
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    fig.tight_layout()
    return fig


def plot_ensemble(estimator, ax=None):
    """Plot the weights of the ensemble's members.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per member, heaviest first, its height the member's weight
        (the weights sum to 1), coloured by family and labelled with the
        trial (as in ``leaderboard_``) and the trial's validation score.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.report import plot_ensemble
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=2, cv=None,
    ...     search_space={"max_epochs": 2}, verbose=0, random_state=0).fit(X, y)
    >>> ax = plot_ensemble(clf)
    >>> round(float(sum(bar.get_height() for bar in ax.patches)), 6)
    1.0
    """
    board = _trials(estimator)
    members = board[board["ensemble_weight"] > 0].sort_values(
        ["ensemble_weight", "trial"], ascending=[False, True], kind="stable")
    ax = _axes(ax)
    colours = _family_colours(board["family"])
    bars = ax.bar(range(len(members)), members["ensemble_weight"], width=0.6,
                  color=[colours[f] for f in members["family"]])
    if len(members) < 4:  # a few bars, not as wide as the axes
        ax.set_xlim(-1.5, len(members) + 0.5)
    ax.bar_label(bars, labels=[f"{w:.2f}" for w in members["ensemble_weight"]],
                 fontsize=8)
    ax.set_xticks(range(len(members)))
    ax.set_xticklabels([f"trial {t}\n{f}\n{s:.3f}" for t, f, s in zip(
        members["trial"], members["family"], members["score"], strict=True)],
        fontsize=8)
    ax.set_ylabel("weight")
    score = getattr(estimator, "ensemble_score_", estimator.best_score_)
    ax.set_title(f"ensemble of {len(members)}: validation {_metric(estimator)} "
                 f"{score:.4f}")
    return ax


def plot_confusion_matrix(estimator, X, y, *, normalize=None, ax=None):
    """Plot a fitted classifier's confusion matrix on ``X, y``.

    Parameters
    ----------
    estimator : AutoDLClassifier
        A fitted classifier (one label per row).
    X : array-like or pandas.DataFrame
        Rows to predict, as for ``predict``.
    y : array-like of shape (n_samples,)
        Their true labels.
    normalize : {"true", "pred", "all"} or None, default=None
        As in :func:`sklearn.metrics.confusion_matrix`: counts, or shares
        of each true class, each predicted class or all rows.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The matrix drawn by :class:`sklearn.metrics.ConfusionMatrixDisplay`,
        true labels down, predicted across, in ``classes_`` order.

    Raises
    ------
    TypeError
        For a regressor, or a multi-label classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.report import plot_confusion_matrix
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, cv=None,
    ...     search_space={"max_epochs": 2}, verbose=0, random_state=0).fit(X, y)
    >>> ax = plot_confusion_matrix(clf, X, y)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['0', '1', '2']
    """
    from sklearn.metrics import ConfusionMatrixDisplay
    from sklearn.utils.validation import check_is_fitted

    from skautodl.persistence import is_multilabel

    check_is_fitted(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None or is_multilabel(estimator):
        kind = "a regressor" if classes is None else "a multi-label classifier"
        raise TypeError(
            f"plot_confusion_matrix needs a classifier of one label per row; "
            f"{type(estimator).__name__} is {kind}"
            + (" (plot_residuals draws a regressor's errors)." if classes is None
               else "."))
    ax = _axes(ax)
    predicted = estimator.predict(X)
    display = ConfusionMatrixDisplay.from_predictions(
        y, predicted, labels=classes, normalize=normalize, ax=ax,
        colorbar=False, values_format=".2f" if normalize else None)
    accuracy = float(np.mean(np.asarray(y) == predicted))
    display.ax_.set_title(f"{len(predicted)} rows, accuracy {accuracy:.4f}")
    return display.ax_


def plot_residuals(estimator, X, y, *, ax=None):
    """Plot a fitted regressor's residuals on ``X, y`` against its predictions.

    Parameters
    ----------
    estimator : AutoDLRegressor
        A fitted regressor.
    X : array-like or pandas.DataFrame
        Rows to predict, as for ``predict``.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Their true values.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One dot per row at (prediction, true value minus prediction), one
        colour per target column (with a legend when there are several),
        and a line at zero; the title gives the root mean squared error.

    Raises
    ------
    TypeError
        For a classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skautodl import AutoDLRegressor
    >>> from skautodl.report import plot_residuals
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoDLRegressor(time_budget=None, n_trials=1, cv=None,
    ...     search_space={"max_epochs": 2}, verbose=0, random_state=0).fit(X, y)
    >>> ax = plot_residuals(reg, X, y)
    >>> len(ax.collections[0].get_offsets()) == len(y)
    True
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    if hasattr(estimator, "classes_"):
        raise TypeError(
            f"plot_residuals needs a regressor; {type(estimator).__name__} is a "
            "classifier (plot_confusion_matrix draws a classifier's errors).")
    predicted = np.asarray(estimator.predict(X), dtype=float)
    truth = np.asarray(y, dtype=float).reshape(predicted.shape)
    residuals = truth - predicted
    ax = _axes(ax)
    columns = predicted.reshape(len(predicted), -1).T
    errors = residuals.reshape(len(residuals), -1).T
    for k, (pred, err) in enumerate(zip(columns, errors, strict=True)):
        ax.scatter(pred, err, s=10, alpha=0.6,
                   label=f"target {k}" if len(columns) > 1 else None)
    ax.axhline(0.0, color="black", linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true - predicted")
    ax.set_title(f"residuals (RMSE {np.sqrt(np.mean(residuals ** 2)):.4g})")
    if len(columns) > 1:
        ax.legend(fontsize=8)
    return ax


def compare(old, new, X, y, *, verbose=True):
    """Compare two fitted estimators on the same held-out ``X, y``.

    Say last month's model and its warm-started successor.

    Parameters
    ----------
    old : AutoDLClassifier or AutoDLRegressor
        The earlier fitted estimator.
    new : AutoDLClassifier or AutoDLRegressor
        The later fitted estimator, of the same kind.
    X : array-like or pandas.DataFrame
        Held-out rows both can predict.
    y : array-like
        Their true targets.
    verbose : bool, default=True
        Print the table and the leaderboard differences.

    Returns
    -------
    pandas.DataFrame
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
    Two tiny searches on the same rows, the second with longer training:

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.report import compare
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> def search(epochs):
    ...     return AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                             cv=None, search_space={"max_epochs": epochs},
    ...                             verbose=0, random_state=0).fit(X_train, y_train)
    >>> table = compare(search(5), search(20), X_test, y_test, verbose=False)
    >>> list(table.columns)
    ['old', 'new', 'change']
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
