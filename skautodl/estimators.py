"""``AutoDLClassifier`` and ``AutoDLRegressor``.

This module validates parameters and input, and orchestrates the pipeline
of :doc:`DESIGN` section 2 (validate -> split -> featurize once per split ->
search -> refit); it holds no training or search logic of its own.
"""

from __future__ import annotations

import numbers
import os
import time
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import replace

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skautodl.controller import (
    Checkpoint,
    _dask_client,
    fingerprint,
    run_search,
    set_rng_state,
)
from skautodl.data.featurize import make_featurizer, prepare_feature_sets
from skautodl.data.splits import make_splits
from skautodl.data.validation import (
    check_image_X,
    check_X,
    check_y,
    detect_task,
    is_image_input,
    normalize_image_shape,
)
from skautodl.exceptions import (
    AllTrialsFailedError,
    BudgetWarning,
    SearchInterruptedWarning,
)
from skautodl.networks.registry import FAMILIES, PLANNED_FAMILIES, families_for
from skautodl.report import cv_results, leaderboard
from skautodl.search.fidelity import make_scheduler
from skautodl.search.portfolio import portfolio
from skautodl.search.searchers.base import SearchSpec, make_searcher
from skautodl.search.space import TRAINING_SPACE, SearchSpace
from skautodl.training.device_data import DeviceSplitCache
from skautodl.training.net import (
    build_net,
    resolve_device,
    restart_lr,
    set_cycle_length,
)
from skautodl.training.trial import Evaluator, feature_key, select_splits

_SEARCHES = ("bayes", "random", "grid", "evolution")
_FIDELITIES = ("hyperband", "halving")
#: parameters that define a search: a checkpoint made with other values of
#: these is refused (time_budget, n_trials, n_jobs, device, verbose may change)
_SEARCH_DEFINING = ("search", "search_space", "families", "fidelity", "cv",
                    "validation_fraction", "scoring", "ensemble_size",
                    "random_state")

#: seconds ``fit`` may run past ``time_budget`` on top of the 10 % margin
#: (the refit of the best model on tiny data, Python start-up of workers)
BUDGET_GRACE_SECONDS = 5.0


def _is_searcher_object(obj):
    if callable(getattr(obj, "bind", None)):  # SearchSpec
        return True
    return callable(getattr(obj, "ask", None)) and callable(getattr(obj, "tell", None))


class _BaseAutoDL(BaseEstimator, metaclass=ABCMeta):
    """Shared parameters, validation and orchestration of the AutoDL estimators."""

    # the subclasses inherit this signature (scikit-learn reads the
    # parameters from it), so it is written once
    def __init__(
        self,
        *,
        time_budget=120,
        n_trials=None,
        search="bayes",
        search_space=None,
        families="auto",
        image_shape=None,
        fidelity="hyperband",
        cv=None,
        validation_fraction=0.2,
        scoring=None,
        ensemble_size=1,
        device="auto",
        n_jobs=1,
        checkpoint_dir=None,
        random_state=None,
        verbose=1,
    ):
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.search = search
        self.search_space = search_space
        self.families = families
        self.image_shape = image_shape
        self.fidelity = fidelity
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.ensemble_size = ensemble_size
        self.device = device
        self.n_jobs = n_jobs
        self.checkpoint_dir = checkpoint_dir
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ params
    def _fail(self, param, allowed, value, exc=ValueError):
        raise exc(
            f"The '{param}' parameter of {type(self).__name__} must be {allowed}; "
            f"got {value!r}."
        )

    def _not_yet(self, param, value, default):
        raise NotImplementedError(
            f"{type(self).__name__}({param}={value!r}) is not implemented yet in "
            f"this release; use {param}={default!r}."
        )

    def _check_params(self):
        """Validate every constructor parameter; return resolved settings."""
        name = type(self).__name__
        tb = self.time_budget
        if tb is not None and (
            isinstance(tb, bool) or not isinstance(tb, numbers.Real)
            or not np.isfinite(tb) or tb <= 0
        ):
            self._fail("time_budget", "a positive number of seconds or None", tb)
        nt = self.n_trials
        if nt is not None and (
            isinstance(nt, bool) or not isinstance(nt, numbers.Integral) or nt < 1
        ):
            self._fail("n_trials", "an int >= 1 or None", nt)
        if tb is None and nt is None:
            raise ValueError(
                f"{name} needs a stopping rule: set time_budget (seconds), n_trials, "
                "or both; both are None."
            )
        search = self.search
        if isinstance(search, str):
            if search not in _SEARCHES:
                self._fail("search", f"one of {_SEARCHES} or an object with ask() "
                           "and tell() methods", search)
        elif not _is_searcher_object(search):
            self._fail("search", f"one of {_SEARCHES} or an object with ask() and "
                       "tell() methods", search)
        if self.search_space is not None and not isinstance(self.search_space, dict):
            self._fail("search_space", "a dict or None", self.search_space)
        families = self.families
        if isinstance(families, str) and families != "auto":
            families = [families]
        if not isinstance(families, str):
            if not isinstance(families, list | tuple) or not families:
                self._fail("families", "'auto' or a non-empty list of family names",
                           self.families)
            for fam in families:
                if fam in PLANNED_FAMILIES:
                    self._not_yet("families", list(families), ["mlp"])
                if fam not in FAMILIES:
                    self._fail("families", f"'auto' or a list drawn from "
                               f"{sorted(FAMILIES) + list(PLANNED_FAMILIES)}", fam)
        if self.image_shape is not None:
            if not isinstance(self.image_shape, tuple | list):
                self._fail("image_shape", "None or a tuple (H, W) / (C, H, W) of "
                           "positive ints", self.image_shape)
            normalize_image_shape(self.image_shape)
        if self.fidelity is not None and self.fidelity not in _FIDELITIES:
            self._fail("fidelity", f"one of {_FIDELITIES} or None", self.fidelity)
        cv = self.cv
        if cv is not None:
            if isinstance(cv, bool) or (isinstance(cv, numbers.Integral) and cv < 2):
                self._fail("cv", "None, an int >= 2, a CV splitter or an iterable of "
                           "(train, test) splits", cv)
            if not isinstance(cv, numbers.Integral) and not (
                hasattr(cv, "split") or hasattr(cv, "__iter__")
            ):
                self._fail("cv", "None, an int >= 2, a CV splitter or an iterable of "
                           "(train, test) splits", cv)
        vf = self.validation_fraction
        if isinstance(vf, bool) or not isinstance(vf, numbers.Real) or not 0 < vf < 1:
            self._fail("validation_fraction", "a float in the open interval (0, 1)", vf)
        scoring = self.scoring
        if scoring is None:
            scorer = get_scorer(self._default_scoring)
        elif isinstance(scoring, str):
            try:
                scorer = get_scorer(scoring)
            except ValueError as exc:
                raise ValueError(f"The 'scoring' parameter of {name}: {exc}") from None
        elif callable(scoring):
            scorer = scoring
        else:
            self._fail("scoring", "None, a scorer name (str) or a callable "
                       "scorer(estimator, X, y)", scoring)
        es = self.ensemble_size
        if isinstance(es, bool) or not isinstance(es, numbers.Integral) or es < 1:
            self._fail("ensemble_size", "an int >= 1", es)
        if es != 1:
            self._not_yet("ensemble_size", es, 1)
        device = self.device
        if not isinstance(device, str) or not (
            device in ("auto", "cpu", "cuda") or (
                device.startswith("cuda:") and device[5:].isdigit())
        ):
            self._fail("device", "'auto', 'cpu', 'cuda' or 'cuda:N'", device)
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(
                    f"{name}(device={device!r}) but CUDA is not available on this "
                    "machine; use device='auto' or 'cpu'."
                )
            if ":" in device and int(device[5:]) >= torch.cuda.device_count():
                raise ValueError(
                    f"{name}(device={device!r}) but only "
                    f"{torch.cuda.device_count()} CUDA device(s) exist."
                )
        nj = self.n_jobs
        if nj is not None and (
            isinstance(nj, bool) or not isinstance(nj, numbers.Integral) or nj == 0
        ):
            self._fail("n_jobs", "None or a non-zero int", nj)
        if self.checkpoint_dir is not None and not isinstance(
            self.checkpoint_dir, str | os.PathLike
        ):
            self._fail("checkpoint_dir", "None or a directory path",
                       self.checkpoint_dir)
        v = self.verbose
        if not isinstance(v, numbers.Integral) or v < 0:
            self._fail("verbose", "an int >= 0 (or a bool)", v)
        return {"scorer": scorer, "device": resolve_device(device),
                "families": families}

    # ------------------------------------------------------------------ fit
    @property
    @abstractmethod
    def _default_scoring(self):
        """Scorer name used when ``scoring`` is None."""

    @abstractmethod
    def _encode_y(self, y):
        """Return ``(y_fit, y_score, task)``; set ``classes_`` for classifiers."""

    def fit(self, X, y):
        """Search network configurations for ``X, y`` and refit the best one.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Training data: numeric, boolean and categorical (string, object,
            ``category``) columns; missing values are imputed.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        start = time.time()
        settings = self._check_params()
        if is_image_input(X, self.image_shape):
            X, shape = check_image_X(self, X, reset=True, image_shape=self.image_shape)
            self.image_shape_ = shape
        else:
            self.__dict__.pop("image_shape_", None)
            X = check_X(self, X, reset=True)
        y = check_y(self, y, X.shape[0], classifier=self._is_classifier)
        y_fit, y_score, task = self._encode_y(y)
        if hasattr(self, "image_shape_"):
            task = replace(task, input_kind="image", image_shape=self.image_shape_)
        if task.n_samples < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to hold out "
                f"validation data; got n_samples={task.n_samples}."
            )
        rng = check_random_state(self.random_state)
        checkpoint, restored = self._open_checkpoint(X, y)
        if restored:
            split_seed, search_seed = restored["seeds"]
            set_rng_state(rng, restored["rng"])
        else:
            split_seed = int(rng.randint(2**31 - 1))
            search_seed = int(rng.randint(2**31 - 1))
        splits = make_splits(X, y_score, cv=self.cv,
                             validation_fraction=self.validation_fraction,
                             classification=task.is_classification, seed=split_seed)
        space, scheduler = self._make_space(settings["families"], task)
        # every featurization the space can ask for, prepared once up front
        data = prepare_feature_sets(X, y_fit, y_score, splits, task,
                                    self._feature_keys(space, task))
        searcher = make_searcher(self.search, space, search_seed)
        if restored and restored.get("searcher") is not None and hasattr(
            type(searcher), "from_state"
        ):
            options = self.search.options if isinstance(self.search, SearchSpec) \
                else {}
            searcher = type(searcher).from_state(restored["searcher"], space,
                                                 random_state=search_seed, **options)
        if restored:
            scheduler.load_state(restored["scheduler"])
        classes = getattr(self, "classes_", None)
        n_workers = self._n_workers()
        evaluator = Evaluator(
            data, task, settings["scorer"], classes=classes, verbose=int(self.verbose),
            device_cache=DeviceSplitCache(),
            # local workers share this machine's cores; Dask workers keep
            # their own thread settings
            n_threads=None if n_workers == 1 or _dask_client() is not None
            else max(1, (os.cpu_count() or 1) // n_workers),
        )
        end_time = None if self.time_budget is None else start + float(self.time_budget)
        n_train = len(next(iter(data.values()))[0].X_train)

        def reserve(best):
            # time kept for refitting ``best`` on all data (20 % safety)
            if not best.epochs_run:
                return 0.0
            per_epoch = best.fit_time / best.epochs_run
            return 1.2 * per_epoch * best.epochs * task.n_samples / max(1, n_train)

        outcome = run_search(
            searcher, evaluator, scheduler=scheduler, portfolio=portfolio(space),
            n_trials=self.n_trials, end_time=end_time, reserve=reserve, seeds=rng,
            n_jobs=n_workers, devices=self._devices(settings["device"], n_workers),
            checkpoint=checkpoint, restored=restored,
            extra_state=[split_seed, search_seed], verbose=int(self.verbose),
        )
        evaluator.device_cache.clear()
        results = outcome.results
        best = outcome.best
        if best is None:
            if outcome.stop_reason == "interrupted":
                raise KeyboardInterrupt
            if not results:
                raise AllTrialsFailedError(
                    f"No trial could run within time_budget={self.time_budget}s "
                    "(data preparation used it up); raise time_budget."
                )
            first = next((r for r in results if r.error), None)
            raise AllTrialsFailedError(
                f"All {len(results)} trials of {type(self).__name__} failed; the "
                f"first failure was: {first.error if first else 'no trial finished'}"
                f" (config: {first.config if first else {}})."
            )
        if outcome.stop_reason == "interrupted":
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted after "
                f"{len(results)} trials; it keeps the best model found so far "
                f"(score {best.score:.4f})"
                + (f" and the checkpoint in {self.checkpoint_dir}"
                   if self.checkpoint_dir else "") + ".",
                SearchInterruptedWarning, stacklevel=2,
            )
        best_nets = outcome.nets.get(outcome.best_index)
        self.searcher_ = searcher
        self.best_estimator_ = self._refit(
            X, y_fit, task, best, best_nets, data, classes, settings["device"],
            start, reserve(best), rng, quick=outcome.stop_reason == "interrupted",
        )
        self.ensemble_ = [(self.best_estimator_, 1.0)]
        self.best_params_ = dict(best.config)
        self.best_score_ = float(best.score)
        self.best_index_ = int(outcome.best_index)
        self.cv_results_ = cv_results(results)
        self.leaderboard_ = leaderboard(results)
        self.n_trials_ = len(results)
        self.search_time_ = float(outcome.search_time)
        self.stop_reason_ = outcome.stop_reason
        self.fit_time_ = time.time() - start
        return self

    # ------------------------------------------------------------------ helpers
    def _n_workers(self):
        """Trials run at once: ``n_jobs`` itself, or all workers for -1."""
        from joblib import effective_n_jobs

        if self.n_jobs is None or self.n_jobs == 1:
            return 1
        if self.n_jobs > 1:
            return int(self.n_jobs)
        return max(1, int(effective_n_jobs(self.n_jobs)))

    @staticmethod
    def _devices(device, n_workers):
        """Devices for the jobs, used round-robin: every GPU when several."""
        import torch

        if device == "cuda" and n_workers > 1 and torch.cuda.device_count() > 1:
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        return [device]

    def _max_epochs(self):
        """Largest epoch count in the space: the multi-fidelity resource R."""
        from skopt.space import Dimension

        value = (self.search_space or {}).get("max_epochs")
        if value is None:
            return int(TRAINING_SPACE["max_epochs"].high)
        if isinstance(value, Dimension):
            return int(value.high) if hasattr(value, "high") else int(
                max(value.categories))
        if isinstance(value, tuple | list):
            return int(max(value))
        return int(value)

    def _check_routed_names(self, overrides, families):
        """Catch typos behind a valid prefix (``module__n_unit``) before any trial."""
        import difflib
        import inspect

        import torch

        from skautodl.data.augment import Augmentation

        def args(*classes):
            return set().union(*(inspect.signature(c).parameters for c in classes))

        # filled from the data, never searched
        data_params = set().union(*(FAMILIES[f].data_params for f in families))
        allowed_by_prefix = {
            "module__": args(*(FAMILIES[f].module for f in families))
            - {"n_inputs", "n_outputs"} - data_params,
            "optimizer__": args(torch.optim.AdamW) - {"params"},
            "augment__": args(Augmentation) - {"image_shape"},
            # the featurizer's only per-trial option
            "featurize__": {"numeric_scaling"},
        }
        for name in overrides:
            if not isinstance(name, str):
                continue  # SearchSpace.build names the bad key
            for prefix, allowed in allowed_by_prefix.items():
                if not name.startswith(prefix):
                    continue
                arg = name[len(prefix):]
                if arg not in allowed:
                    close = difflib.get_close_matches(arg, sorted(allowed), n=1)
                    hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
                    raise ValueError(
                        f"search_space has {name!r}, but no network family in "
                        f"{list(families)} takes a parameter '{arg}' ({prefix[:-2]} "
                        f"parameters: {sorted(allowed)}).{hint}"
                    )

    def _make_space(self, families, task):
        if families == "auto":
            families = families_for(task)
        overrides = dict(self.search_space or {})
        self._check_routed_names(overrides, families)
        if self.fidelity is not None:
            # epochs are the fidelity resource, no longer a searched parameter
            overrides["max_epochs"] = self._max_epochs()
        space = SearchSpace.build(
            list(families),
            {f: FAMILIES[f].space(task) for f in families},
            {f: FAMILIES[f].defaults for f in families},
            overrides, task=task,
        )
        return space, make_scheduler(self.fidelity, self._max_epochs())

    @staticmethod
    def _feature_keys(space, task):
        """Featurization keys of every config ``space`` can produce."""
        from skopt.space import Categorical

        name = "featurize__numeric_scaling"
        keys = []
        for f in space.families:
            dim = space.subspaces[f].get(name)
            if isinstance(dim, Categorical):
                scalings = list(dim.categories)
            else:
                scalings = [space.fixed[f].get(name, "standard")]
            for scaling in scalings:
                key = feature_key(task, {"family": f, name: scaling})
                if key not in keys:
                    keys.append(key)
        return keys

    def _open_checkpoint(self, X, y):
        if self.checkpoint_dir is None:
            return None, None
        params = {k: v for k, v in self.get_params().items() if k in _SEARCH_DEFINING}
        if isinstance(params["search"], SearchSpec):
            params["search"] = repr(params["search"])
        elif not isinstance(params["search"], str):
            params["search"] = type(params["search"]).__name__
        if not (self.random_state is None or isinstance(self.random_state,
                                                          numbers.Integral)):
            params.pop("random_state")
        checkpoint = Checkpoint(self.checkpoint_dir, fingerprint(X, y, params))
        return checkpoint, checkpoint.load()

    def _refit(self, X, y_fit, task, best, best_nets, data, classes, device, start,
               needed, rng, quick=False):
        """Retrain the best config on all data, replaying its epoch schedule.

        Falls back to the trial's own model (trained on the training split)
        when the remaining budget cannot hold the refit, or after Ctrl-C.
        """
        hard_end = None
        if self.time_budget is not None:
            hard_end = start + 1.1 * float(self.time_budget) + BUDGET_GRACE_SECONDS
        too_slow = hard_end is not None and time.time() + needed > hard_end

        def trial_model(reason=None):
            """The best trial's own pipeline (trained on its training split)."""
            if reason is not None:
                warnings.warn(
                    f"{reason}; {type(self).__name__} keeps the best trial's model, "
                    "trained on the training split only. Raise time_budget to "
                    "refit.", BudgetWarning, stacklevel=4,
                )
            return Pipeline([("featurize",
                              select_splits(data, task, best.config)[0].featurizer),
                             ("net", best_nets[0])])

        if best_nets and (quick or too_slow):
            return trial_model(
                f"The remaining time budget cannot hold a refit on all data (about "
                f"{needed:.1f}s)" if too_slow else None)
        import torch

        featurizer = make_featurizer(task, feature_key(task, best.config))
        X_all = featurizer.fit_transform(X)
        segments = best.segments or [(best.epochs, best.epochs)]
        net = None
        # the best trial's own seed: the same initial weights as the trial
        # whose training is replayed (a fresh seed made tiny budgets a lottery)
        torch.manual_seed(int(best.seed))
        for kept, length in segments:
            if net is None:
                config = {**best.config, "max_epochs": int(kept),
                          "callbacks__lr_schedule__T_max": int(length)}
                net = build_net(config, task, X_all.shape[1], classes=classes,
                                device=device, valid=None,
                                data_params=getattr(featurizer, "module_params_",
                                                    None),  # images: none
                                # a second kept for wrapping up after training
                                deadline=None if hard_end is None
                                else hard_end - 1.0,
                                verbose=int(self.verbose))
                net.fit(X_all, y_fit)
            else:
                net.set_params(max_epochs=int(kept))
                set_cycle_length(net, length)
                restart_lr(net)
                net.partial_fit(X_all, y_fit)
            if dict(net.callbacks_)["time_limit"].stopped_:
                if best_nets:
                    # a cut-short schedule leaves the weights mid-cycle (high
                    # learning rate): the trial's own model is the better one
                    return trial_model("The time budget ran out during the refit "
                                       "on all data")
                warnings.warn(
                    f"The time budget ran out during the refit on all data; "
                    f"{type(self).__name__} keeps the partly retrained model. "
                    "Raise time_budget for a complete refit.", BudgetWarning,
                    stacklevel=3,
                )
                break
        return Pipeline([("featurize", featurizer), ("net", net)])

    # ------------------------------------------------------------------ predict
    def _predict_input(self, X):
        if hasattr(self, "image_shape_"):
            flat_rows = getattr(X, "ndim", np.ndim(X)) == 2
            return check_image_X(self, X, reset=False,
                                 image_shape=self.image_shape_ if flat_rows
                                 else None)[0]
        return check_X(self, X, reset=False)

    def predict(self, X):
        """Predict with the best model found by the search.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Same columns as in ``fit``.

        Returns
        -------
        y_pred : ndarray
            Labels (classifier) or values (regressor); 1-D when ``y`` was.
        """
        check_is_fitted(self)
        X = self._predict_input(X)
        return self.best_estimator_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.time_budget is not None
        return tags


class AutoDLClassifier(ClassifierMixin, _BaseAutoDL):
    """Automated deep learning classifier.

    Searches network architectures and training hyperparameters (Bayesian
    optimization by default) within a time budget, then refits the best
    configuration on all the data. Works on numpy arrays and pandas
    DataFrames with numeric, boolean and categorical columns and missing
    values.

    Parameters
    ----------
    time_budget : float or None, default=120
        Seconds for the whole ``fit`` (search and refit). ``fit`` returns
        within ``1.1 * time_budget + 5`` seconds.
    n_trials : int or None, default=None
        Most trials to run; None runs as many as the budget allows.
    search : {"bayes", "random", "grid", "evolution"}, SearchSpec or searcher, \
            default="bayes"
        Search strategy: Bayesian optimization (scikit-optimize, a Gaussian
        process surrogate), random search, a finite grid, or a genetic
        algorithm. ``SearchSpec("bayes", surrogate="RF")`` passes options to
        a built-in strategy. An object with ``ask(n)`` and ``tell(configs,
        scores)`` methods (and optionally ``setup(space, random_state)``)
        is used as well; ``fit`` works on a copy (``searcher_``).
    search_space : dict or None, default=None
        Overrides or extends the default space: skopt dimensions, lists of
        choices, ``(low, high)`` tuples, or fixed values, keyed by skorch
        parameter names (``"lr"``, ``"module__n_units"``...).
    families : "auto" or list of str, default="auto"
        Network families to search: ``"mlp"``, ``"resnet"``,
        ``"ensemble_mlp"`` (tabular), ``"cnn"`` (images). ``"auto"`` uses
        ``"mlp"`` for tabular data and ``"cnn"`` for images.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)``: treat the rows of a 2-D ``X`` as flat
        images of this shape (so image models work after 2-D pipeline
        steps). Arrays of shape ``(n, H, W)`` or ``(n, C, H, W)`` are images
        without it.
    fidelity : {"hyperband", "halving"} or None, default="hyperband"
        Multi-fidelity schedule over epochs: many cheap short trials, the
        best ``1/3`` of each rung continued (from their weights) for 3x the
        epochs. ``"halving"`` repeats Hyperband's most aggressive bracket;
        None trains every trial for its full ``max_epochs``.
    cv : None, int, CV splitter or iterable, default=None
        None holds out ``validation_fraction`` of the data once; an int
        gives that many stratified folds.
    validation_fraction : float, default=0.2
        Size of the holdout split when ``cv`` is None.
    scoring : str, callable or None, default=None
        Scorer ranking the trials; None means accuracy.
    ensemble_size : int, default=1
        Members of the final ensemble (1 = the best single model).
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where networks train; "auto" uses CUDA when present.
    n_jobs : int or None, default=1
        Trials run at once through joblib; -1 uses every core (or every Dask
        worker inside ``joblib.parallel_backend("dask")``). Each worker gets
        ``cores // n_jobs`` torch threads.
    checkpoint_dir : str, path-like or None, default=None
        Directory where the search state is saved after every trial; a new
        ``fit`` with the same directory, data and search parameters resumes
        without repeating finished trials.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits, the search and every trial.
    verbose : int, default=1
        0 is silent, 1 shows a progress bar, 2 adds skorch's per-epoch log.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    image_shape_ : tuple of int
        ``(C, H, W)`` of image input (only set for images).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    best_params_ : dict
        Config of the best trial (skorch parameter names plus ``family``).
    best_score_ : float
        Validation score of the best trial.
    best_index_ : int
        Index of the best trial in ``cv_results_``.
    best_estimator_ : sklearn.pipeline.Pipeline
        Featurizer plus fitted skorch net; predicts on raw input.
    ensemble_ : list of (Pipeline, float)
        Ensemble members with their weights.
    cv_results_ : dict of ndarray
        Per-trial results with :class:`~sklearn.model_selection.GridSearchCV`'s
        keys.
    leaderboard_ : pandas.DataFrame
        One row per trial, best first.
    n_trials_ : int
        Trials run.
    search_time_ : float
        Seconds spent searching.
    fit_time_ : float
        Seconds spent in ``fit``.
    searcher_ : object
        The searcher that ran (its ``history`` holds every tell).
    stop_reason_ : str
        Why the search ended: ``"time_budget"``, ``"n_trials"``,
        ``"exhausted"`` or ``"interrupted"``.

    See Also
    --------
    AutoDLRegressor : The regression counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=2, verbose=0,
    ...                        search_space={"max_epochs": 30}, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.8
    True
    """

    _is_classifier = True
    _default_scoring = "accuracy"

    def _encode_y(self, y):
        encoder = LabelEncoder()
        y_idx = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})."
            )
        task = detect_task(y, classifier=True, n_classes=len(self.classes_))
        return y_idx.astype(np.int64), y, task

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._predict_input(X)
        return self.best_estimator_.predict_proba(X)


class AutoDLRegressor(RegressorMixin, _BaseAutoDL):
    """Automated deep learning regressor.

    Searches network architectures and training hyperparameters (Bayesian
    optimization by default) within a time budget, then refits the best
    configuration on all the data. Targets are standardized internally and
    predictions mapped back; a 2-D ``y`` trains one network with one output
    per column (multi-output regression).

    Parameters
    ----------
    time_budget : float or None, default=120
        Seconds for the whole ``fit`` (search and refit). ``fit`` returns
        within ``1.1 * time_budget + 5`` seconds.
    n_trials : int or None, default=None
        Most trials to run; None runs as many as the budget allows.
    search : {"bayes", "random", "grid", "evolution"}, SearchSpec or searcher, \
            default="bayes"
        Search strategy (see ``AutoDLClassifier``).
    search_space : dict or None, default=None
        Overrides or extends the default space (see ``AutoDLClassifier``).
    families : "auto" or list of str, default="auto"
        Network families to search: ``"mlp"``, ``"resnet"``,
        ``"ensemble_mlp"`` (tabular), ``"cnn"`` (images). ``"auto"`` uses
        ``"mlp"`` for tabular data and ``"cnn"`` for images.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)``: treat the rows of a 2-D ``X`` as flat
        images of this shape (so image models work after 2-D pipeline
        steps). Arrays of shape ``(n, H, W)`` or ``(n, C, H, W)`` are images
        without it.
    fidelity : {"hyperband", "halving"} or None, default="hyperband"
        Multi-fidelity schedule over epochs (see ``AutoDLClassifier``).
    cv : None, int, CV splitter or iterable, default=None
        None holds out ``validation_fraction`` once; an int gives k folds.
    validation_fraction : float, default=0.2
        Size of the holdout split when ``cv`` is None.
    scoring : str, callable or None, default=None
        Scorer ranking the trials; None means R^2.
    ensemble_size : int, default=1
        Members of the final ensemble (1 = the best single model).
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where networks train.
    n_jobs : int or None, default=1
        Trials run at once through joblib; -1 uses every core (or every Dask
        worker inside ``joblib.parallel_backend("dask")``). Each worker gets
        ``cores // n_jobs`` torch threads.
    checkpoint_dir : str, path-like or None, default=None
        Directory where the search state is saved after every trial; a new
        ``fit`` with the same directory, data and search parameters resumes
        without repeating finished trials.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits, the search and every trial.
    verbose : int, default=1
        0 is silent, 1 shows a progress bar, 2 adds skorch's per-epoch log.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    best_params_ : dict
        Config of the best trial.
    best_score_ : float
        Validation score of the best trial.
    best_index_ : int
        Index of the best trial in ``cv_results_``.
    best_estimator_ : sklearn.pipeline.Pipeline
        Featurizer plus fitted skorch net; predicts on raw input.
    ensemble_ : list of (Pipeline, float)
        Ensemble members with their weights.
    cv_results_ : dict of ndarray
        Per-trial results with ``GridSearchCV``'s keys.
    leaderboard_ : pandas.DataFrame
        One row per trial, best first.
    n_trials_ : int
        Trials run.
    search_time_ : float
        Seconds spent searching.
    fit_time_ : float
        Seconds spent in ``fit``.
    searcher_ : object
        The searcher that ran (its ``history`` holds every tell).
    stop_reason_ : str
        Why the search ended: ``"time_budget"``, ``"n_trials"``,
        ``"exhausted"`` or ``"interrupted"``.

    See Also
    --------
    AutoDLClassifier : The classification counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skautodl import AutoDLRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoDLRegressor(time_budget=None, n_trials=2, verbose=0,
    ...                       search_space={"max_epochs": 30}, random_state=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _is_classifier = False
    _default_scoring = "r2"

    def _encode_y(self, y):
        task = detect_task(y, classifier=False)
        return y.astype(np.float32), y, task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
