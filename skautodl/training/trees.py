"""Trials and refits of a tree family (``"hgb"``), on the networks' code path.

:func:`~skautodl.training.trial.run_trial` hands a config of a tree family
here (:func:`run_tree_trial`); the refit's replay does the same
(:func:`replay_tree`). Everything around them is shared with the networks:
the controller's loop, the featurized splits (the same one-hot matrix the
networks get, :func:`~skautodl.training.trial.feature_key`), the scorer,
the :class:`~skautodl.training.trial.TrialResult`, the ensemble's pool of
out-of-sample predictions, the checkpoint and the refit's fallbacks.

What differs, and why:

* **Epochs are boosting iterations.** ``epochs`` is the iterations the
  models kept (the mean over splits), what the refit on all data runs;
  ``epochs_run`` the iterations boosted, summed over splits. ``curve`` stays
  empty: the per-epoch pruning of the multi-fidelity scheduler compares
  networks' validation losses, not trees'.
* **Early stopping on the trial's validation split**, as the networks'
  early stopping does (``X_val``/``y_val`` of scikit-learn's booster); the
  refit runs the kept iterations without it.
* **Time limit.** A booster cannot stop inside ``fit``; it boosts in chunks
  of :data:`~skautodl.networks.hgb.CHUNK` iterations and starts no new chunk
  that would end past the deadline (the first always runs), and
  ``hgb__max_iter`` is bounded (at most
  :data:`~skautodl.networks.hgb.MAX_ITER`).
* **Multi-fidelity.** A tree trial always trains at full fidelity (its
  ``max_iter`` with early stopping, whatever epochs a rung gives it); a
  promotion rescores the models it continues instead of training again.
* **CPU only**: ``device`` is ignored; ``n_threads`` caps the booster's
  OpenMP threads in a worker.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
from sklearn.pipeline import Pipeline

from skautodl.data.featurize import make_featurizer
from skautodl.networks.hgb import make_model
from skautodl.networks.registry import is_tree_config
from skautodl.training.trial import (
    TrialResult,
    _peak_rss_mb,
    failed_trial,
    feature_key,
    worker_id,
)


def is_tree(config):
    """Tell whether ``config`` belongs to a tree family (no skorch net).

    Parameters
    ----------
    config : dict
        A trial config.

    Returns
    -------
    bool
        True for the ``"hgb"`` family.
    """
    return is_tree_config(config)


def _threads(n_threads):
    if n_threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(n_threads), user_api="openmp")


def run_tree_trial(config, splits, task, *, scorer, classes=None, seed=0,
                   deadline=None, warm_nets=None, prior_segments=(),
                   n_threads=None) -> TrialResult:
    """Fit ``config``'s trees on each split and score them; never raises.

    Parameters
    ----------
    config : dict
        A trial config of a tree family.
    splits : list of skautodl.data.featurize.SplitData
        Cached featurized splits.
    task : skautodl.data.validation.TaskInfo
        The task.
    scorer : callable
        ``scorer(model, X_valid, y_valid) -> float``, higher is better.
    classes : array-like, optional
        The user's labels (classifier).
    seed : int, default=0
        The boosters' seed.
    deadline : float, optional
        ``time.time()`` after which no new chunk of boosting starts.
    warm_nets : list, optional
        The models of the trial a promotion continues: they are rescored,
        not trained again.
    prior_segments : sequence, default=()
        The segments of that trial.
    n_threads : int or None, default=None
        Caps the OpenMP threads of the boosters.

    Returns
    -------
    TrialResult
        ``status="ok"`` with the fitted models, or ``status="failed"``
        with the error.

    See Also
    --------
    skautodl.training.trial.run_trial : The networks' trial.
    """
    scores, models, preds, kept = [], [], [], []
    fit_time = score_time = 0.0
    iterations = 0
    stopped = False
    try:
        with _threads(n_threads):
            for i, split in enumerate(splits):
                if warm_nets is not None:
                    model = warm_nets[i]
                else:
                    model = make_model(config, task, classes, seed)
                    t0 = time.perf_counter()
                    model.fit(split.X_train, split.y_train, X_val=split.X_valid,
                              y_val=split.y_valid_fit, deadline=deadline)
                    fit_time += time.perf_counter() - t0
                    iterations += sum(int(b.n_iter_) for b in model.estimators_)
                    stopped = stopped or model.stopped_
                kept.append(model.n_iter_)
                t0 = time.perf_counter()
                score = float(scorer(model, split.X_valid, split.y_valid))
                preds.append(model.predict_proba(split.X_valid)
                             if task.is_classification
                             else model.predict(split.X_valid))
                score_time += time.perf_counter() - t0
                if not np.isfinite(score):
                    raise FloatingPointError(f"validation score is {score}")
                scores.append(score)
                models.append(model)
    except (Exception, MemoryError) as exc:  # noqa: BLE001 - a trial never kills a search
        return failed_trial(
            exc, config, seed=seed, device="cpu", prior_segments=prior_segments,
            split_scores=scores, epochs_run=iterations, fit_time=fit_time,
            score_time=score_time, stopped_by_budget=stopped,
        )
    n_iter = max(1, int(round(np.mean(kept))))
    segments = (list(prior_segments) if warm_nets is not None and prior_segments
                else [(n_iter, n_iter)])
    return TrialResult(
        config=dict(config), status="ok", score=float(np.mean(scores)),
        split_scores=scores, epochs=n_iter, epochs_run=iterations,
        fit_time=fit_time, score_time=score_time, stopped_by_budget=stopped,
        nets=models, valid_predictions=preds, peak_memory_mb=_peak_rss_mb(),
        seed=seed, segments=segments, worker=worker_id(), device="cpu",
    )


def replay_tree(best, X, y_fit, task, *, classes=None, hard_end=None):
    """Refit ``best``'s trees on all data for the iterations its trial kept.

    The seed is the trial's, there is no early stopping, and no chunk of
    boosting starts that would end past ``hard_end`` minus a second.

    Parameters
    ----------
    best : TrialResult
        The trial to replay.
    X : array-like or pandas.DataFrame
        All training rows (raw).
    y_fit : ndarray
        Their targets, as the models train on them.
    task : skautodl.data.validation.TaskInfo
        The task.
    classes : array-like, optional
        The user's labels (classifier).
    hard_end : float, optional
        ``time.time()`` the refit must not pass.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The featurizer and the refitted tree model.
    cut_short : bool
        Whether the time limit stopped boosting early.
    """
    featurizer = make_featurizer(task, feature_key(task, best.config))
    X_all = featurizer.fit_transform(X)
    config = {**best.config, "hgb__max_iter": max(1, int(best.epochs))}
    model = make_model(config, task, classes, best.seed)
    model.fit(X_all, y_fit, deadline=None if hard_end is None else hard_end - 1.0)
    return Pipeline([("featurize", featurizer), ("net", model)]), model.stopped_
