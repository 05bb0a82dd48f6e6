"""The refit: the best configuration retrained on all the data.

:func:`refit` replays the best trial's epoch schedule (its ``segments``:
how many epochs each stretch of training kept) on all the rows, each
stretch as one learning-rate cycle of the epochs it kept (annealed to its
end, where the trial's early stopping may have kept mid-cycle weights),
with the same code a trial trains a stretch with
(:func:`~skautodl.training.trial.train_segment`), and returns a fitted
``Pipeline(featurizer, net)``.

It is guarded: when the remaining budget cannot hold it, after Ctrl-C, when
the time limit cuts it short, or when it fails (a diverging loss, running
out of memory, any error), the best trial's own model (trained on the
training split) is returned instead, with a warning, so the search is never
lost. The caller's global torch random state is left as it was.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from sklearn.pipeline import Pipeline

from skautodl.data.featurize import fit_featurizer, make_featurizer, transform_rows
from skautodl.data.splits import nested_order
from skautodl.ensemble import member_models
from skautodl.exceptions import BudgetWarning, RefitError, RefitFailedWarning
from skautodl.training.net import (
    build_net,
    release_training_state,
    without_validation_data,
)
from skautodl.training.trial import feature_key, subsample_rows, train_segment
from skautodl.utils._console import write_line

logger = logging.getLogger("skautodl")


def refit(best, trial_nets, X, y_fit, task, features, *, classes=None,
          device="cpu", hard_end=None, needed=0.0, quick=False, verbose=0,
          owner="the estimator"):
    """Retrain ``best``'s config on all data; fall back to its trial model.

    Parameters
    ----------
    best : TrialResult
        The best trial (its config, seed and segments).
    trial_nets : list of skorch nets or None
        The best trial's own nets (one per split), the fallback; None when
        they are gone (a search resumed from a checkpoint).
    X : pandas.DataFrame or ndarray
        All the validated training data.
    y_fit : ndarray
        Its targets, as the networks consume them.
    task : skautodl.data.validation.TaskInfo
        The task.
    features : skautodl.data.featurize.FeatureStore
        The search's featurizations (the trial model's featurizer).
    classes : ndarray or None, default=None
        The user's labels (classifier).
    device : str, default="cpu"
        Where the refit trains.
    hard_end : float or None, default=None
        ``time.time()`` by which ``fit`` must return.
    needed : float, default=0.0
        Estimated seconds of the refit; with less time left the trial model
        is kept without trying.
    quick : bool, default=False
        Keep the trial model without refitting (after Ctrl-C).
    verbose : int, default=0
        The per-epoch log of skorch is shown from 2.
    owner : str, default="the estimator"
        The estimator's class name, for messages.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``Pipeline([("featurize", featurizer), ("net", net)])``.

    Raises
    ------
    skautodl.exceptions.RefitError
        If the refit fails and the trial's own nets are gone.

    Warns
    -----
    skautodl.exceptions.BudgetWarning
        When the time left cannot hold the refit, or runs out during it.
    skautodl.exceptions.RefitFailedWarning
        When the refit fails and the trial's own model is kept.
    """

    def trial_model(reason=None, category=BudgetWarning):
        if reason is not None:
            warnings.warn(
                f"{reason}; {owner} keeps the best trial's model, trained on the "
                "training split only.", category, stacklevel=4,
            )
        featurizer = features.get(feature_key(task, best.config))[0].featurizer
        return Pipeline([("featurize", featurizer),
                         ("net", without_validation_data(trial_nets[0]))])

    too_slow = hard_end is not None and time.time() + needed > hard_end
    if trial_nets and (quick or too_slow):
        return trial_model(
            f"The remaining time budget cannot hold a refit on all data (about "
            f"{needed:.1f}s); raise time_budget to refit" if too_slow else None)
    try:
        pipeline, cut_short = _replay(best, X, y_fit, task, classes=classes,
                                      device=device, hard_end=hard_end,
                                      verbose=verbose)
    except (Exception, MemoryError) as exc:  # noqa: BLE001 - never lose the search
        logger.debug("refit failed", exc_info=True)
        message = f"The refit on all data failed ({type(exc).__name__}: {exc})"
        if not trial_nets:
            raise RefitError(
                f"{message}, and the best trial's model is not available (the "
                "search was resumed from a checkpoint). The checkpoint is kept; "
                "fit again to retry."
            ) from exc
        return trial_model(message, RefitFailedWarning)
    if cut_short:
        if trial_nets:
            # a cut-short schedule leaves the weights mid-cycle (high
            # learning rate): the trial's own model is the better one
            return trial_model("The time budget ran out during the refit on all "
                               "data; raise time_budget to refit")
        warnings.warn(
            f"The time budget ran out during the refit on all data; {owner} "
            "keeps the partly retrained model. Raise time_budget for a complete "
            "refit.", BudgetWarning, stacklevel=3,
        )
    return pipeline


def _replay(best, X, y_fit, task, *, classes, device, hard_end, verbose):
    """Train ``best``'s config on all data, segment by segment.

    Returns ``(pipeline, cut_short)``. A tree family's config refits
    through :func:`skautodl.training.trees.replay_tree`.
    """
    from skautodl.training.trees import is_tree, replay_tree

    if is_tree(best.config):
        return replay_tree(best, X, y_fit, task, classes=classes, hard_end=hard_end)
    featurizer = make_featurizer(task, feature_key(task, best.config))
    fit_featurizer(featurizer, X)
    X_all = transform_rows(featurizer, X, np.arange(len(X)))
    segments = best.segments or [(best.epochs, best.epochs)]
    net = None
    # each stretch is replayed for the epochs it kept, as one whole cycle
    # of that length: early stopping picked the trial's weights mid-cycle,
    # at a high learning rate, by their validation score, which a refit
    # has no rows left to do; annealing over the kept epochs instead gave
    # the better refit in 24 of 42 early-stopped trials on the development
    # suite (16 worse), +0.0035 on average (docs/benchmarks.md, "Refit
    # schedule")
    order = None
    for segment in segments:
        kept, fraction = segment[0], (segment[2] if len(segment) > 2 else 1.0)
        X_seg, y_seg = X_all, y_fit
        if fraction < 1.0:
            # a stretch a data-size fidelity rung trained on a subsample:
            # the same share of all the rows, stratified and nested
            if order is None:
                order = nested_order(np.arange(len(y_fit)), y_fit,
                                     classification=task.is_classification,
                                     seed=best.seed)
            rows = np.sort(order[:subsample_rows(len(y_fit), fraction)])
            X_seg, y_seg = X_all[rows], y_fit[rows]
        if net is None:
            config = {**best.config, "max_epochs": int(kept),
                      "callbacks__lr_schedule__T_max": int(kept)}
            net = build_net(config, task, X_all.shape[1], classes=classes,
                            device=device, valid=None,
                            data_params=getattr(featurizer, "module_params_", None),
                            # a second kept for wrapping up after training
                            deadline=None if hard_end is None else hard_end - 1.0,
                            verbose=verbose)
            if verbose >= 2:  # the header of the epoch tables that follow
                family = best.config.get("family")
                write_line(f"refit of trial {best.trial_id} ({family}) on all "
                           f"{len(y_fit)} rows: {best.epochs} epochs")
        # the best trial's own seed: the same initial weights as the trial
        # whose training is replayed
        train_segment(net, X_seg, y_seg, epochs=kept, cycle_length=kept,
                      seed=best.seed)
        if dict(net.callbacks_)["time_limit"].stopped_:
            return Pipeline([("featurize", featurizer), ("net", net)]), True
    return Pipeline([("featurize", featurizer), ("net", net)]), False


def _trial_model(result, trial_nets, features, task):
    """A trial's own model: its first split's featurizer and net."""
    split = features.get(feature_key(task, result.config))[0]
    return Pipeline([("featurize", split.featurizer),
                     ("net", without_validation_data(trial_nets[0]))])


def bag(result, trial_nets, features, task):
    """Build a trial's ensemble member under ``cv``: its fold models averaged.

    No training: each fold's net (trained on that fold's training rows)
    comes with that fold's featurizer, and the member averages their
    predictions (k-fold bagging, as AutoGluon does).

    Parameters
    ----------
    result : TrialResult
        The trial.
    trial_nets : list of skorch.NeuralNet
        Its nets, one per fold.
    features : skautodl.data.featurize.FeatureStore
        The search's featurizations (each fold's featurizer).
    task : skautodl.data.validation.TaskInfo
        The task.

    Returns
    -------
    skautodl.ensemble.BaggedModel
        One ``Pipeline(featurizer, net)`` per fold.
    """
    from skautodl.ensemble import BaggedModel

    splits = features.get(feature_key(task, result.config))
    return BaggedModel([Pipeline([("featurize", split.featurizer),
                                  ("net", without_validation_data(net))])
                        for split, net in zip(splits, trial_nets, strict=True)])


def _predict_only(models):
    """Free the optimizer state of the nets of ``models`` (they predict from
    now on: a fitted estimator never trains its members again)."""
    for model in models:
        for pipeline in member_models(model):
            release_training_state(pipeline.steps[-1][1])


def fit_members(weights, best, outcome, X, y_fit, task, features, *, bagging,
                refit_members=True, classes=None, device="cpu", hard_end=None,
                member_end=None, needed=None, quick=False, verbose=0,
                owner="the estimator"):
    """Fit the models of the ensemble's members and of the best trial.

    Parameters
    ----------
    weights : dict
        ``{trial_id: weight}`` from :func:`skautodl.ensemble.select`.
    best : TrialResult
        The best single trial (``best_estimator_``'s).
    outcome : SearchOutcome
        Its results and kept nets.
    X : pandas.DataFrame or ndarray
        All the validated training data.
    y_fit : ndarray
        Its targets, as the networks consume them.
    task : skautodl.data.validation.TaskInfo
        The task.
    features : skautodl.data.featurize.FeatureStore
        The search's featurizations.
    bagging : bool
        With ``cv``: a member is its trial's fold models averaged
        (:func:`bag`), no refit. Without: each member is refitted on all
        data, the best trial first (with :func:`refit`'s fallbacks), then
        the others by weight while the time left holds their estimated
        refit; a member that cannot be afforded keeps its trial model
        (trained on the training split) when its nets are kept, and is
        dropped otherwise, as is one whose refit fails (the weights of the
        others are renormalized).
    refit_members : bool, default=True
        False keeps every member as its trial trained it (on the training
        split; data-size fidelity on large data), without a warning; a
        member whose nets are gone is dropped.
    classes : ndarray or None, default=None
        The user's labels (classifier).
    device : str, default="cpu"
        Where the refits train.
    hard_end : float or None
        ``time.time()`` by which the best trial's refit must end (the
        budget's overrun margin, see :class:`~skautodl.controller.loop.Budget`).
    member_end : float or None
        ``time.time()`` by which the other members' refits must end: the
        time budget itself (default: ``hard_end``). A member is never
        trained past it.
    needed : callable
        ``needed(result) -> seconds``: a member's estimated refit time.
    quick : bool, default=False
        Keep every member as its trial trained it (after Ctrl-C).
    verbose : int, default=0
        The per-epoch log of skorch is shown from 2.
    owner : str, default="the estimator"
        The estimator's class name, for messages.

    Returns
    -------
    members : list of (estimator, float)
        The members' models and their weights (``ensemble_``).
    best_model : estimator
        The best trial's model (``best_estimator_``).
    weights : dict
        ``{trial_id: weight}`` of the members kept, summing to 1.

    Warns
    -----
    skautodl.exceptions.BudgetWarning
        When members are left out for lack of time.
    skautodl.exceptions.RefitFailedWarning
        When members are left out because their refit failed.
    """
    models, dropped, failed, kept_as_trained = {}, [], [], []
    if member_end is None:
        member_end = hard_end
    others = sorted((t for t in weights if t != best.trial_id),
                    key=lambda t: (-weights[t], t))
    for trial_id in [best.trial_id, *others]:
        result = outcome.by_id(trial_id)
        trial_nets = outcome.nets.get(trial_id)
        if bagging and trial_nets:
            models[trial_id] = bag(result, trial_nets, features, task)
        elif not refit_members and trial_nets:
            models[trial_id] = _trial_model(result, trial_nets, features, task)
        elif trial_id == best.trial_id:
            models[trial_id] = refit(result, trial_nets, X, y_fit, task, features,
                                     classes=classes, device=device,
                                     hard_end=hard_end, needed=needed(result),
                                     quick=quick, verbose=verbose, owner=owner)
        elif quick or (member_end is not None
                       and time.time() + needed(result) > member_end):
            if trial_nets:
                # no time to refit: the member as its trial trained it
                models[trial_id] = _trial_model(result, trial_nets, features, task)
                kept_as_trained.append(trial_id)
            else:
                dropped.append(trial_id)
        else:
            try:
                pipeline, cut_short = _replay(result, X, y_fit, task,
                                              classes=classes, device=device,
                                              hard_end=member_end, verbose=verbose)
            except (Exception, MemoryError):  # noqa: BLE001 - drop the member
                logger.debug("refit of member %d failed", trial_id, exc_info=True)
                failed.append(trial_id)
                continue
            if cut_short and trial_nets:
                models[trial_id] = _trial_model(result, trial_nets, features, task)
                kept_as_trained.append(trial_id)
            elif cut_short:
                dropped.append(trial_id)
            else:
                models[trial_id] = pipeline
    _predict_only(models.values())
    kept = {t: w for t, w in weights.items() if t in models}
    if kept_as_trained:
        logger.info("%d ensemble member(s) (trials %s) kept as their trials "
                    "trained them: no time left to refit them on all data",
                    len(kept_as_trained), sorted(kept_as_trained))
    if failed:
        warnings.warn(
            f"The refit on all data failed for {len(failed)} ensemble member(s) "
            f"(trials {sorted(failed)}); {owner} leaves them out.",
            RefitFailedWarning, stacklevel=3,
        )
    if dropped and not quick:
        warnings.warn(
            f"The time budget could not hold the refit of "
            f"{len(dropped)} ensemble member(s) (trials {sorted(dropped)}); "
            f"{owner} leaves them out. Raise time_budget for the whole ensemble.",
            BudgetWarning, stacklevel=3,
        )
    if not kept:  # every member dropped: the best trial alone
        kept = {best.trial_id: 1.0}
    total = sum(kept.values())
    kept = {t: w / total for t, w in sorted(kept.items())}
    return ([(models[t], w) for t, w in kept.items()], models[best.trial_id],
            kept)
