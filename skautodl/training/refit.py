"""The refit: the best configuration retrained on all the data.

:func:`refit` replays the best trial's epoch schedule (its ``segments``:
how many epochs each stretch of training kept, and the length of its
learning-rate cycle) on all the rows, with the same code a trial trains a
stretch with (:func:`~skautodl.training.trial.train_segment`), and returns
a fitted ``Pipeline(featurizer, net)``.

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

from sklearn.pipeline import Pipeline

from skautodl.data.featurize import make_featurizer
from skautodl.exceptions import BudgetWarning, RefitError, RefitFailedWarning
from skautodl.training.net import build_net, without_validation_data
from skautodl.training.trial import feature_key, train_segment

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
    X, y_fit
        All the validated data; targets as the networks consume them.
    task : TaskInfo
    features : FeatureStore
        The search's featurizations (the trial model's featurizer).
    classes : ndarray or None
    device : str
    hard_end : float or None
        ``time.time()`` by which ``fit`` must return.
    needed : float
        Estimated seconds of the refit; with less time left the trial model
        is kept without trying.
    quick : bool
        Keep the trial model without refitting (after Ctrl-C).
    verbose : int
    owner : str
        The estimator's class name, for messages.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``Pipeline([("featurize", featurizer), ("net", net)])``.
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

    Returns ``(pipeline, cut_short)``.
    """
    featurizer = make_featurizer(task, feature_key(task, best.config))
    X_all = featurizer.fit_transform(X)
    segments = best.segments or [(best.epochs, best.epochs)]
    net = None
    for kept, length in segments:
        if net is None:
            config = {**best.config, "max_epochs": int(kept),
                      "callbacks__lr_schedule__T_max": int(length)}
            net = build_net(config, task, X_all.shape[1], classes=classes,
                            device=device, valid=None,
                            data_params=getattr(featurizer, "module_params_", None),
                            # a second kept for wrapping up after training
                            deadline=None if hard_end is None else hard_end - 1.0,
                            verbose=verbose)
        # the best trial's own seed: the same initial weights as the trial
        # whose training is replayed
        train_segment(net, X_all, y_fit, epochs=kept, cycle_length=length,
                      seed=best.seed)
        if dict(net.callbacks_)["time_limit"].stopped_:
            return Pipeline([("featurize", featurizer), ("net", net)]), True
    return Pipeline([("featurize", featurizer), ("net", net)]), False
