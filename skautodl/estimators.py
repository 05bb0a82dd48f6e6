"""``AutoDLClassifier`` and ``AutoDLRegressor``.

The estimators orchestrate; every job is done elsewhere (see
``docs/architecture.md``): validate the input (:mod:`skautodl.data.validation`)
-> split (:mod:`skautodl.data.splits`) -> build the search space
(:mod:`skautodl.search.space`) -> run the search (:mod:`skautodl.controller`)
-> refit the best configuration (:mod:`skautodl.training.refit`) -> set the
fitted attributes (:mod:`skautodl.report`). Parameter checks are declared
as data (``_parameter_constraints``), and both estimators' docstrings come
from one template.
"""

from __future__ import annotations

import numbers
import os
import time
from abc import ABCMeta, abstractmethod
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer_names
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from skautodl._compat import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from skautodl.controller import Controller
from skautodl.data.featurize import FeatureStore
from skautodl.data.splits import make_splits, nested_order
from skautodl.data.validation import (
    check_fit_input,
    check_predict_input,
    detect_task,
)
from skautodl.ensemble import (
    MAX_POOL,
    Ensemble,
    PredictionPool,
    blend,
    blend_scorer,
    blend_tiebreak,
    fit_temperature,
    label_probabilities,
    select,
)
from skautodl.networks.registry import resolve_families
from skautodl.report import SearchSummary, cv_results, leaderboard
from skautodl.search.fidelity import FIDELITIES, make_scheduler, use_rows
from skautodl.search.portfolio import portfolio_for, warm_configs, warm_portfolio
from skautodl.search.searchers import SEARCHERS, SearchSpec
from skautodl.search.space import SearchSpace
from skautodl.training.net import routed_parameters
from skautodl.training.refit import fit_members
from skautodl.training.scoring import trial_scorer

#: parameters that define a search: a checkpoint made with other values of
#: these is refused (time_budget, n_trials, n_jobs, device, verbose may change);
#: image_shape is fingerprinted as resolved by fit (None for tabular data)
_SEARCH_DEFINING = ("search", "search_space", "families", "image_shape",
                    "fidelity", "cv", "validation_fraction", "scoring",
                    "ensemble_size", "random_state")


#: ``cv="auto"``: tabular data with fewer rows than this are bagged over
#: ``AUTO_FOLDS`` folds, everything else gets one holdout split (chosen on
#: the development suite: docs/benchmarks.md, "Validation protocol")
AUTO_BAGGING_MAX_ROWS = 1000
AUTO_FOLDS = 5


def resolve_cv(cv, n_samples, input_kind, smallest_class=None):
    """Return the ``cv`` a fit uses: ``cv`` itself, or what ``"auto"`` chooses.

    ``"auto"`` gives ``AUTO_FOLDS``-fold bagging for tables of fewer than
    ``AUTO_BAGGING_MAX_ROWS`` rows (where ranking trials on one small
    holdout is mostly noise, and a fold costs little) and None (one holdout
    split of ``validation_fraction``) otherwise, and always for images
    (each CNN fold costs a whole training). On tiny data the folds are
    fewer, so that every fold holds a member of the smallest class
    (``smallest_class``, classifiers) or 2 rows (regressors); below 2
    folds it is the holdout.

    Parameters
    ----------
    cv : "auto", None, int, CV splitter or iterable
        The estimator's ``cv`` parameter.
    n_samples : int
        Rows (or images) of the training data.
    input_kind : {"tabular", "image"}
        The kind of input.
    smallest_class : int or None, default=None
        Size of the smallest class (classifiers); None for a regressor.

    Returns
    -------
    None, int, CV splitter or iterable
        ``cv`` unchanged unless it is ``"auto"``; then a number of folds,
        or None for one holdout split.

    Examples
    --------
    >>> from skautodl.estimators import resolve_cv
    >>> resolve_cv("auto", 150, "tabular", smallest_class=50)
    5
    >>> resolve_cv("auto", 5000, "tabular"), resolve_cv("auto", 150, "image")
    (None, None)
    """
    if not (isinstance(cv, str) and cv == "auto"):
        return cv
    if input_kind == "image" or n_samples >= AUTO_BAGGING_MAX_ROWS:
        return None
    room = n_samples // 2 if smallest_class is None else smallest_class
    folds = min(AUTO_FOLDS, room)
    return folds if folds >= 2 else None


def warm_start_results(source, owner):
    """Read the trials of the earlier search that ``warm_start`` names.

    Parameters
    ----------
    source : str or path-like
        A model file (:func:`skautodl.save`) or a ``checkpoint_dir``.
    owner : str
        The class name of the estimator being fitted: a model file must
        hold the same class.

    Returns
    -------
    dict or None
        ``cv_results_``-like ``{"params": [...], "mean_test_score": [...]}``
        (NaN for failed trials); None for a model file without
        ``cv_results_``.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If the model file holds the other estimator class.
    skautodl.exceptions.ModelFileError
        If the model file is not valid.
    """
    from skautodl.controller.checkpoint import read_results
    from skautodl.persistence import read_search

    path = os.fspath(source)
    if os.path.isdir(path):
        records = read_results(path)
        return {"params": [r["config"] for r in records],
                "mean_test_score": [np.nan if r["score"] is None else r["score"]
                                    for r in records]}
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"warm_start={path!r}: no such model file or checkpoint directory.")
    name, results = read_search(path)
    if name != owner:
        raise ValueError(f"warm_start={path!r} holds an {name}; "
                         f"an {owner} can only warm-start from an {owner}.")
    return results


class _EnsemblePlan:
    """What the search keeps for the ensemble of ``ensemble_size`` rounds.

    With ``ensemble_size=1`` nothing beyond the best trial (its refit on
    all data is the model). Otherwise the out-of-sample predictions of the
    best ``min(100, 5 x ensemble_size)`` trials and the nets of the best
    ``2 x ensemble_size`` (the members' fold models with ``cv``, or their
    trial models when a refit cannot be afforded). The search keeps time
    for one refit (none with ``cv``: bags need no refit).
    """

    def __init__(self, ensemble_size, bagging, refit=True):
        single = ensemble_size == 1
        self.bagging = bool(bagging) and not single
        self.refit = bool(refit)
        self.pool = None if single else PredictionPool(
            min(MAX_POOL, 5 * ensemble_size))
        self.keep_nets = 1 if single else 2 * ensemble_size
        self.refits = 0 if self.bagging or not self.refit else 1


class _BaseAutoDL(BaseEstimator, metaclass=ABCMeta):
    """Shared parameters, validation and orchestration of the AutoDL estimators."""

    _parameter_constraints = {
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "n_trials": [Interval(Integral, 1, None, closed="left"), None],
        "search": [StrOptions(set(SEARCHERS)), HasMethods(["ask", "tell"]),
                   SearchSpec],
        "search_space": [dict, None],
        "families": [str, list, tuple],  # names checked by the family registry
        "image_shape": [tuple, list, None],
        "fidelity": [StrOptions(set(FIDELITIES)), None],
        "cv": [StrOptions({"auto"}), "cv_object", None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],  # "auto", "cpu", "cuda", "cuda:N": checked on use
        "n_jobs": [Interval(Integral, 1, None, closed="left"),
                   Interval(Integral, None, -1, closed="right"), None],
        "checkpoint_dir": [str, os.PathLike, None],
        "warm_start": ["boolean", str, os.PathLike],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

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
        cv="auto",
        validation_fraction=0.2,
        scoring=None,
        ensemble_size=10,
        device="auto",
        n_jobs=1,
        checkpoint_dir=None,
        warm_start=False,
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
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @property
    @abstractmethod
    def _default_scoring(self):
        """Scorer name used when ``scoring`` is None."""

    @abstractmethod
    def _encode_y(self, y):
        """Return ``(y_fit, task)``: targets as the networks see them."""

    def _validate_params(self):
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False),
                                       caller_name=type(self).__name__)

    def _search_params(self):
        """The search-defining parameters, as the checkpoint fingerprints them.

        Called by ``fit`` after its input checks: ``image_shape`` is the
        resolved ``(C, H, W)`` of image input (``image_shape_``; the same for
        ``(H, W)``, ``[H, W]`` or 4-D arrays) and None for tabular data, so a
        tabular search and an image search on the same rows never share a
        checkpoint. A callable ``scoring`` is fingerprinted by its qualified
        name (see :func:`skautodl.controller.fingerprint`).
        """
        params = {k: v for k, v in self.get_params().items() if k in _SEARCH_DEFINING}
        shape = self.__dict__.get("image_shape_")
        params["image_shape"] = None if shape is None else tuple(int(d) for d in shape)
        search = params["search"]
        if not isinstance(search, str):
            params["search"] = repr(search) if isinstance(search, SearchSpec) \
                else type(search).__name__
        if not (self.random_state is None
                or isinstance(self.random_state, numbers.Integral)):
            params.pop("random_state")
        return params

    def _warm_history(self):
        """``(config, score)`` of the trials ``warm_start`` points to."""
        source = self.warm_start
        if source is False:
            return []
        if source is True:
            results = self.__dict__.get("cv_results_")
        else:
            results = warm_start_results(source, type(self).__name__)
        if not results:
            return []
        return list(zip(results["params"], results["mean_test_score"], strict=True))

    def fit(self, X, y):
        """Search network configurations for ``X, y`` and refit the best one.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Training data: numeric, boolean and categorical (string, object,
            ``category``) columns; missing values are imputed. Images as
            ``(n, H, W)`` or ``(n, C, H, W)`` arrays, or flat rows with
            ``image_shape``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        object
            The fitted estimator itself.

        Raises
        ------
        ValueError
            For an invalid parameter or input (each message names what is
            wrong), or a ``checkpoint_dir`` holding another search
            (:class:`~skautodl.exceptions.CheckpointError`, a
            ``ValueError``).
        skautodl.exceptions.AllTrialsFailedError
            If no trial produced a model.

        Warns
        -----
        skautodl.exceptions.TrialFailedWarning
            For each trial that raised, diverged or ran out of memory.
        skautodl.exceptions.SearchInterruptedWarning
            When Ctrl-C stops the search; the best model so far is kept.

        See Also
        --------
        predict : Predict with the fitted ensemble.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
        ...                        cv=None, search_space={"max_epochs": 5},
        ...                        verbose=0, random_state=0).fit(X, y)
        >>> clf.n_trials_, clf.stop_reason_
        (1, 'n_trials')
        """
        start = time.time()
        name = type(self).__name__
        self._validate_params()
        X, y, image_shape = check_fit_input(self, X, y, image_shape=self.image_shape,
                                            classifier=self._is_classifier)
        y_fit, task = self._encode_y(y)
        if image_shape is not None:
            task = replace(task, input_kind="image", image_shape=image_shape)
        classes = getattr(self, "classes_", None)
        # the controller locks the checkpoint until its search ends (or fails)
        with Controller(
            time_budget=self.time_budget, n_trials=self.n_trials, n_jobs=self.n_jobs,
            device=self.device, checkpoint_dir=self.checkpoint_dir,
            verbose=self.verbose, start=start, owner=name,
        ) as controller:
            controller.open(X, y, self._search_params(), self.random_state)
            cv = resolve_cv(self.cv, task.n_samples, task.input_kind,
                            int(np.bincount(y_fit).min())
                            if task.is_classification else None)
            splits = make_splits(X, y, cv=cv,
                                 validation_fraction=self.validation_fraction,
                                 classification=task.is_classification,
                                 seed=controller.split_seed)
            n_train = len(splits[0][0])
            rows = use_rows(self.fidelity, n_train)
            if rows:
                # data-size fidelity trains on prefixes of the training rows:
                # order them so that every prefix is a stratified subsample
                splits = [(nested_order(train, y, classification=task.is_classification,
                                        seed=controller.split_seed), valid)
                          for train, valid in splits]
            families = resolve_families(self.families, task)
            space = SearchSpace.for_task(families, task, self.search_space,
                                         routed=routed_parameters(families),
                                         fidelity=self.fidelity is not None)
            searcher = controller.searcher(self.search, space)
            portfolio = portfolio_for(self.search, space, self.n_trials)
            if not controller.restored:
                warm = warm_configs(self._warm_history(), space)
                if warm:
                    # the earlier trials inform the searcher's first proposal;
                    # its best configs run first
                    searcher.tell([c for c, _ in warm], [v for _, v in warm])
                    portfolio = warm_portfolio(
                        warm, portfolio_for(self.search, space), self.n_trials)
            features = FeatureStore(X, y_fit, y, splits, task)
            scorer = trial_scorer(self.scoring, self._default_scoring, task, y, name)
            # with data-size fidelity (large data) the trial models are kept:
            # a refit on all rows would cost the best trial's time again for
            # a quarter more rows, time the search gets instead
            plan = _EnsemblePlan(self.ensemble_size, bagging=cv is not None,
                                 refit=not rows)
            outcome = controller.run(
                searcher, make_scheduler(self.fidelity, space.max_epochs, n_train),
                portfolio, features, task, scorer, classes, pool=plan.pool,
                keep_nets=plan.keep_nets, refits=plan.refits)
        best = controller.best_of(outcome)
        weights, history = {best.trial_id: 1.0}, [float(best.score)]
        if plan.pool is not None and len(plan.pool):
            y_valid = np.concatenate([y[valid] for _, valid in splits])
            weights, history = select(
                plan.pool, y_valid, blend_scorer(scorer, task, classes,
                                                 self._default_scoring),
                self.ensemble_size, tiebreak=blend_tiebreak(task, classes))
        self.ensemble_, self.best_estimator_, weights = fit_members(
            weights, best, outcome, X, y_fit, task, features, bagging=plan.bagging,
            refit_members=plan.refit, classes=classes, device=controller.device,
            hard_end=controller.budget.hard_end,
            member_end=controller.budget.end_time,
            needed=lambda r: controller.refit_reserve(r, task.n_samples,
                                                      features.n_train),
            quick=outcome.stop_reason == "interrupted", verbose=int(self.verbose),
            owner=name,
        )
        if self._is_classifier and task.is_multilabel:
            self.temperature_ = 1.0
        elif self._is_classifier:
            # fitted on the kept members' blend, on the rows they were
            # selected on; none without a pool (ensemble_size=1)
            pooled = plan.pool is not None and all(t in plan.pool for t in weights)
            y_index = np.concatenate([y_fit[valid] for _, valid in splits])
            # refitted members (a holdout) are never sharpened past the most
            # confident one; bagged members are the models whose out-of-fold
            # predictions the temperature is fitted on
            members = (None if plan.bagging or not plan.refit or not pooled else
                       [plan.pool.predictions[t] for t in sorted(weights)])
            self.temperature_ = (fit_temperature(blend(plan.pool, weights), y_index,
                                                 members=members)
                                 if pooled else 1.0)
        self.ensemble_score_ = float(max(history))
        self.cv_ = cv
        self.searcher_ = searcher
        self.best_params_ = dict(best.config)
        self.best_score_ = float(best.score)
        self.best_index_ = int(outcome.best_index)
        self.cv_results_ = cv_results(outcome.results, weights)
        self.leaderboard_ = leaderboard(outcome.results, weights)
        self.n_trials_ = len(outcome.results)
        self.n_samples_fit_ = int(task.n_samples)
        self.n_outputs_ = 1 if y.ndim == 1 else int(y.shape[1])
        self.search_time_ = float(outcome.search_time)
        self.stop_reason_ = outcome.stop_reason
        self.fit_time_ = time.time() - start
        return self

    def predict(self, X):
        """Predict with the best model found by the search.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Same columns (or image shape) as in ``fit``.

        Returns
        -------
        ndarray
            Labels (classifier) or values (regressor), the ensemble's blend;
            1-D when ``y`` was, else ``(n_samples, n_outputs)`` (a 0/1
            indicator matrix for multi-label classification).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            If the columns (or the image shape) differ from those seen in
            ``fit``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
        ...                        cv=None, search_space={"max_epochs": 5},
        ...                        verbose=0, random_state=0).fit(X, y)
        >>> clf.predict(X[:3]).shape
        (3,)
        """
        check_is_fitted(self)
        return self._ensemble().predict(check_predict_input(self, X))

    def summary(self):
        """Summarize the fitted search in a few lines.

        The task, the data's shape, the search (strategy, trials, time,
        why it stopped), the validation protocol, the best trial and the
        ensemble's members with their weights. Printed, or shown as a
        table in a notebook; ``leaderboard_`` has every trial.

        Returns
        -------
        skautodl.report.SearchSummary
            Its ``repr`` is the text, its ``_repr_html_`` a table, and its
            ``members`` a DataFrame of the ensemble's members.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.

        See Also
        --------
        skautodl.report.plot_search : The search as plots.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, cv=None,
        ...     search_space={"max_epochs": 2}, verbose=0, random_state=0)
        >>> print(clf.fit(X, y).summary().title)
        AutoDLClassifier: multiclass classification, 3 classes
        """
        check_is_fitted(self)
        return SearchSummary.from_estimator(self)

    def export_onnx(self, path, **kwargs):
        """Write the fitted model as an ONNX file (see :mod:`skautodl.export`).

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file to write.
        **kwargs
            Passed to :func:`skautodl.export.export_onnx` (``fold``,
            ``dtype``, ``opset_version``).

        Returns
        -------
        str
            The path written.

        See Also
        --------
        skautodl.export.export_onnx : The function, with a complete example
            of running the graph.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
        ...                        cv=None, search_space={"max_epochs": 5},
        ...                        verbose=0, random_state=0).fit(X, y)
        >>> tmp = tempfile.TemporaryDirectory()
        >>> os.path.basename(clf.export_onnx(os.path.join(tmp.name, "iris.onnx")))
        'iris.onnx'
        >>> tmp.cleanup()
        """
        from skautodl.export import export_onnx

        return export_onnx(self, path, **kwargs)

    def export_torchscript(self, path, **kwargs):
        """Write the fitted model as a TorchScript file (see :mod:`skautodl.export`).

        Parameters
        ----------
        path : str or path-like
            The file to write (by convention ``*.pt``).
        **kwargs
            Passed to :func:`skautodl.export.export_torchscript` (``fold``,
            ``dtype``).

        Returns
        -------
        str
            The path written.

        See Also
        --------
        skautodl.export.export_torchscript : The function, with a complete
            example of loading and running the module.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
        ...                        cv=None, search_space={"max_epochs": 5},
        ...                        verbose=0, random_state=0).fit(X, y)
        >>> tmp = tempfile.TemporaryDirectory()
        >>> os.path.basename(clf.export_torchscript(os.path.join(tmp.name, "iris.pt")))
        'iris.pt'
        >>> tmp.cleanup()
        """
        from skautodl.export import export_torchscript

        return export_torchscript(self, path, **kwargs)

    def compress(self, X=None, y=None, **kwargs):
        """Return a pruned and quantized copy of this fitted estimator.

        This estimator is not changed.

        Parameters
        ----------
        X : array-like or pandas.DataFrame, default=None
            Rows for the fine-tune after pruning, the validation score and
            the latency (see :func:`skautodl.compression.compress`).
        y : array-like, default=None
            Targets of ``X``.
        **kwargs
            Passed to :func:`skautodl.compression.compress`: ``sparsity``,
            ``quantize``, ``fine_tune_epochs``, ``fine_tune_lr``,
            ``validation_fraction``, ``random_state``.

        Returns
        -------
        AutoDLClassifier or AutoDLRegressor
            A fitted estimator of the same class, with
            ``compression_report_`` (sizes, sparsity, scores and latency
            before and after).

        See Also
        --------
        skautodl.compression.compress : The function, with every parameter.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
        ...                        cv=None, search_space={"max_epochs": 5},
        ...                        verbose=0, random_state=0).fit(X, y)
        >>> small = clf.compress(X, y, sparsity=0.5, random_state=0)
        >>> small.compression_report_["after"]["weight_sparsity"]
        0.5
        """
        from skautodl.compression import compress

        return compress(self, X, y, **kwargs)

    def _ensemble(self):
        classes = getattr(self, "classes_", None)
        return Ensemble(self.ensemble_, classes,
                        temperature=getattr(self, "temperature_", 1.0),
                        multilabel=isinstance(classes, list))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.time_budget is not None
        return tags


class AutoDLClassifier(ClassifierMixin, _BaseAutoDL):
    _is_classifier = True
    _default_scoring = "accuracy"

    def _encode_y(self, y):
        if y.ndim == 2:
            # multi-label: one 0/1 output per label, as scikit-learn's
            # multi-output classifiers describe it (a list of classes)
            self.classes_ = [np.array([0, 1], dtype=y.dtype)
                             for _ in range(y.shape[1])]
            return y.astype(np.float32), detect_task(y, classifier=True)
        encoder = LabelEncoder()
        y_idx = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})."
            )
        task = detect_task(y, classifier=True, n_classes=len(self.classes_))
        return y_idx.astype(np.int64), task

    def predict_proba(self, X):
        """Predict class probabilities, columns in the order of ``classes_``.

        The ensemble's blended probabilities, temperature scaled
        (``temperature_``), which never changes the predicted labels.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Same columns (or image shape) as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or list of ndarray
            The probabilities. With a label-indicator ``y`` (multi-label),
            one (n_samples, 2) array per label (probabilities of 0 and 1),
            as scikit-learn's multi-output classifiers return them.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            If the columns (or the image shape) differ from those seen in
            ``fit``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skautodl import AutoDLClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
        ...                        cv=None, search_space={"max_epochs": 5},
        ...                        verbose=0, random_state=0).fit(X, y)
        >>> proba = clf.predict_proba(X[:2])
        >>> proba.shape, proba.sum(axis=1).round(6).tolist()
        ((2, 3), [1.0, 1.0])
        """
        check_is_fitted(self)
        ensemble = self._ensemble()
        proba = ensemble.predict_proba(check_predict_input(self, X))
        return label_probabilities(proba) if ensemble.multilabel else proba

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags


class AutoDLRegressor(RegressorMixin, _BaseAutoDL):
    _is_classifier = False
    _default_scoring = "r2"

    def _encode_y(self, y):
        # float64: the net standardizes targets in float64 before its float32
        # training, so large offsets (y + 1e9) keep their precision
        return y.astype(np.float64), detect_task(y, classifier=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# ---------------------------------------------------------------------- docs
_DOC = """Automated deep learning {kind}.

{summary}

Parameters
----------
time_budget : float or None, default=120
    Seconds for the whole ``fit``: search and refit. ``fit`` returns within
    ``time_budget + min(0.1 * time_budget, 30) + 5`` seconds. None: no time
    limit (then ``n_trials`` must be set: ``fit`` raises ``ValueError``
    when both are None).
n_trials : int or None, default=None
    Most trials to run; None runs as many as the budget allows. Every trial
    counts: the portfolio's known-good configurations (at most
    ``ceil(n_trials / 2)`` of them, each trained for the full epoch count,
    with early stopping), the searcher's proposals and, with a ``fidelity``
    schedule, each rung's short trials and every promotion of a
    configuration to more epochs. ``n_trials=1`` is therefore one
    full-length trial of the first family's default configuration; it is a
    short first-rung trial only without the portfolio
    (``SearchSpec(..., portfolio=False)``) or on data large enough for
    data-size fidelity, where the portfolio opens the first bracket.
search : {{"bayes", "random", "grid", "evolution"}}, SearchSpec or searcher, \
default="bayes"
    Search strategy: Bayesian optimization (scikit-optimize, a Gaussian
    process surrogate), random search, a grid (a coarse grid of the default
    space, or the grid of the dimensions ``search_space`` sets), or a
    genetic algorithm. ``SearchSpec("bayes", surrogate="RF")`` passes
    options to a built-in strategy, and ``SearchSpec(..., portfolio=False)``
    skips the known-good portfolio. An object with ``ask(n)`` and
    ``tell(configs, scores)`` methods (and optionally ``setup(space,
    random_state)``, ``state()`` and ``from_state``) is used as well;
    ``fit`` works on a copy (``searcher_``).
search_space : dict or None, default=None
    Overrides or extends the default space: skopt dimensions, lists of
    choices, ``(low, high)`` tuples, or fixed values, keyed by skorch
    parameter names (``"lr"``, ``"module__n_units"``...).
families : "auto" or list of str, default="auto"
    Network families to search: ``"mlp"``, ``"embed"``, ``"resnet"``,
    ``"ensemble_mlp"`` (tabular), ``"cnn"`` (images), and gradient-boosted
    trees ``"hgb"`` (tabular, opt-in: ``["mlp", "hgb"]`` lets the ensemble
    mix trees and networks). ``"auto"`` uses ``"mlp"`` and ``"embed"`` for
    tabular data and ``"cnn"`` for images.
image_shape : tuple of int or None, default=None
    ``(H, W)`` or ``(C, H, W)``: treat the rows of a 2-D ``X`` as flat
    images of this shape (so image models work after 2-D pipeline steps).
    Arrays of shape ``(n, H, W)`` or ``(n, C, H, W)`` are images without it.
fidelity : str or None, default="hyperband"
    Multi-fidelity schedule: many cheap short trials, the best ``1/3`` of
    each rung continued (from their weights) for 3x the epochs.
    ``"halving"`` repeats Hyperband's most aggressive bracket; None trains
    every trial for its full ``max_epochs``. On large data (from 30,000
    training rows) the rungs below the top also train on stratified
    subsamples, 3x more rows per rung, at least 10,000 (data-size
    fidelity; validation always on the whole validation split):
    ``"hyperband-rows"`` / ``"halving-rows"`` force that on,
    ``"hyperband-epochs"`` / ``"halving-epochs"`` off.
cv : "auto", None, int, CV splitter or iterable, default="auto"
    None holds out ``validation_fraction`` of the data once; an int gives
    that many {folds} folds, and each ensemble member is then its trial's
    fold models averaged (bagging, no refit). ``"auto"``: 5 folds for tables
    of fewer than 1,000 rows, one holdout split otherwise and for images
    (``cv_`` says which was used).
validation_fraction : float, default=0.2
    Size of the holdout split when ``cv`` is None.
scoring : str, callable or None, default=None
    Scorer ranking the trials; None means {scoring}.
ensemble_size : int, default=10
    Rounds of greedy ensemble selection over the trials' out-of-sample
    predictions (a trial may be chosen several times; its weight is its
    share of the rounds). With ``cv=None`` the members are refitted on all
    data; with ``cv`` each member is its trial's fold models averaged
    (bagging). 1 = the best single model.
device : {{"auto", "cpu", "cuda", "cuda:N"}}, default="auto"
    Where networks train; "auto" uses CUDA when present.
n_jobs : int or None, default=1
    Trials run at once: in local worker processes, or on a Dask cluster
    inside ``joblib.parallel_backend("dask")``; -1 uses every core (every
    Dask worker thread). Each local worker gets ``cores // n_jobs`` torch
    threads; more workers than cores are capped with a warning.
checkpoint_dir : str, path-like or None, default=None
    Directory where the search state is saved after every trial; a new
    ``fit`` with the same directory, data and search parameters resumes
    without repeating finished trials.
warm_start : bool, str or path-like, default=False
    Start the search from an earlier one's results: ``True`` uses this
    estimator's previous ``fit`` (nothing on a first fit), a path names a
    saved model file (:func:`skautodl.save`) or a ``checkpoint_dir``. The
    earlier search's best configurations (at most 3) run first and all its
    finished trials are told to the searcher before it proposes, so a
    refit on grown data costs a fraction of the first search. Earlier
    configurations outside the current space are skipped. A resumed
    checkpoint ignores it (its searcher already holds that history).
random_state : int, RandomState instance or None, default=None
    Seeds the splits, the search and every trial.
verbose : int, default=1
    0 is silent, 1 shows a progress bar, 2 adds skorch's per-epoch log.

Attributes
----------
{classes}image_shape_ : tuple of int
    ``(C, H, W)`` of image input (only set for images).
n_features_in_ : int
    Number of features seen during ``fit``.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Column names, when ``X`` was a DataFrame with string column names.
best_params_ : dict
    Config of the best trial (skorch parameter names plus ``family``).
best_score_ : float
    Validation score of the best trial.
best_index_ : int
    Index of the best trial in ``cv_results_``.
best_estimator_ : sklearn.pipeline.Pipeline or skautodl.ensemble.BaggedModel
    The best single trial's model (featurizer plus fitted skorch net, or
    tree model for ``"hgb"``; its bag of fold models with ``cv``); predicts
    on raw input.
ensemble_ : list of (estimator, float)
    Ensemble members (pipelines refitted on all data after a holdout
    split, the trials' own models on large data, or bags of fold models
    with ``cv``) with their weights, summing to 1; ``predict`` averages
    them.
ensemble_score_ : float
    Validation score of the ensemble's blend, on the out-of-sample
    predictions it was selected on (pooled over the folds with ``cv``, so
    it is not a mean of fold scores as ``best_score_`` is);
    ``best_score_`` with ``ensemble_size=1``.
cv_ : None, int, CV splitter or iterable
    The validation protocol used: ``cv``, or what ``cv="auto"`` chose
    (5 folds or None, one holdout split).
cv_results_ : dict of ndarray
    Per-trial results with :class:`~sklearn.model_selection.GridSearchCV`'s
    keys, in trial order.
leaderboard_ : pandas.DataFrame
    One row per trial, best first: ``rank``, ``trial``, ``family``,
    ``score``, ``status``, ``fidelity``, ``fit_time`` and
    ``ensemble_weight``, then the trial's other figures and its parameters
    (see :func:`skautodl.report.leaderboard`).
n_trials_ : int
    Trials run.
n_samples_fit_ : int
    Number of rows (or images) ``fit`` was given.
n_outputs_ : int
    Number of target columns (1 for a 1-D ``y``).
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
{other} : The {other_kind} counterpart.

Examples
--------
A tiny, deterministic search (one trial of at most 20 epochs) so that the
example runs in seconds; real searches are bounded by ``time_budget``.

>>> from sklearn.datasets import {dataset}
>>> from skautodl import {name}
>>> X, y = {dataset}(return_X_y=True)
>>> est = {name}(time_budget=None, n_trials=1, families=["mlp"], cv=None,
...     search_space={{"max_epochs": 20}}, verbose=0, random_state=0)
>>> {check}
{expected}
"""

_SUMMARY = """Searches network architectures and training hyperparameters within a
time budget: a short portfolio of known-good configurations, then Bayesian
optimization by default, with Hyperband over epochs. The best trials are
combined by greedy ensemble selection on their out-of-sample predictions;
the members are refitted on all the data when the time left allows (bagged
over the folds with ``cv``; on large data the trials' own models are
kept). """

AutoDLClassifier.__doc__ = _DOC.format(
    kind="classifier", name="AutoDLClassifier", folds="stratified",
    summary=_SUMMARY + "Works on numpy arrays and pandas DataFrames with numeric,\n"
    "boolean and categorical columns and missing values, and on images; a\n"
    "2-D 0/1 ``y`` is multi-label classification (one network, one output\n"
    "per label).",
    scoring="accuracy",
    classes="classes_ : ndarray of shape (n_classes,) or list of ndarray\n"
    "    Class labels; for multi-label ``y``, one ``[0, 1]`` array per label.\n"
    "temperature_ : float\n    Temperature scaling of the ensemble's blended "
    "probabilities, fitted\n    on the out-of-sample rows the ensemble was "
    "selected on (1.0: none;\n    below 1 sharpens). It never changes the "
    "predicted labels.\n",
    other="AutoDLRegressor", other_kind="regression", dataset="load_iris",
    check="est.fit(X, y).score(X, y) > 0.8", expected="True",
)
AutoDLRegressor.__doc__ = _DOC.format(
    kind="regressor", name="AutoDLRegressor", folds="shuffled",
    summary=_SUMMARY + "Targets are standardized internally and predictions mapped\n"
    "back; a 2-D ``y`` trains one network with one output per column\n"
    "(multi-output regression).",
    scoring="R^2", classes="",
    other="AutoDLClassifier", other_kind="classification", dataset="load_diabetes",
    check="est.fit(X, y).predict(X[:3]).shape", expected="(3,)",
)
