"""The gradient-boosted trees family ``"hgb"`` (opt-in, tabular only).

scikit-learn's ``HistGradientBoostingClassifier`` / ``Regressor`` as a
search family beside the networks, so that ensemble selection can mix
trees and networks (``families=["mlp", "hgb"]``). It is not in
``families="auto"``.

The trees take the same featurized matrix the networks get (the
:class:`~skautodl.data.featurize.TabularFeaturizer`'s float32 output:
scaled numbers, one-hot categories). Config keys are the booster's own
parameter names behind ``hgb__`` (``hgb__learning_rate``,
``hgb__max_leaf_nodes``, ...); the networks' training settings (``lr``,
``batch_size``, ``max_epochs``, ...) do not apply to it.

:class:`HGBModel` wraps the booster for the trials: it trains on class
indices and predicts the user's labels (``predict_proba`` columns follow
``classes``, also when a training split lacks a class), fits one booster
per target column for multi-output regression, and boosts in chunks of
:data:`CHUNK` iterations (``warm_start``) so that a deadline is checked
between chunks: a chunk itself cannot be interrupted.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from skopt.space import Integer, Real

from skautodl.search.space import Bound

#: the config prefix of the booster's parameters
PREFIX = "hgb__"
#: boosting iterations per uninterruptible ``fit`` call
CHUNK = 25
#: the most boosting iterations a config may ask for
MAX_ITER = 1000
#: booster arguments a config may not set: the wrapper owns them
RESERVED = ("random_state", "warm_start", "early_stopping", "verbose",
            "validation_fraction", "categorical_features")


def applies(task):
    """Tell whether trees fit ``task``: tabular, not multi-label.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    bool
        True for tabular classification and (multi-output) regression.
    """
    return task.input_kind == "tabular" and not task.is_multilabel


def space(task):
    """Return the booster's searched parameters.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    dict
        The skopt dimensions keyed ``hgb__<booster argument>``; the same
        for every task.
    """
    return {
        "hgb__learning_rate": Real(0.02, 0.3, prior="log-uniform"),
        "hgb__max_leaf_nodes": Integer(8, 128, prior="log-uniform"),
        "hgb__min_samples_leaf": Integer(5, 100, prior="log-uniform"),
        "hgb__l2_regularization": Real(1e-6, 10.0, prior="log-uniform"),
        "hgb__max_iter": Integer(50, 500),
        "hgb__max_features": Real(0.5, 1.0),
    }


#: a known-good point (close to scikit-learn's defaults)
DEFAULTS = {
    "hgb__learning_rate": 0.1,
    "hgb__max_leaf_nodes": 31,
    "hgb__min_samples_leaf": 20,
    "hgb__l2_regularization": 1e-3,
    "hgb__max_iter": 300,
    "hgb__max_features": 1.0,
}

#: the coarse grid ``search="grid"`` runs (each list holds the default)
GRID = {
    "hgb__learning_rate": [0.05, 0.1],
    "hgb__max_leaf_nodes": [15, 31, 63],
    "hgb__min_samples_leaf": [5, 20],
}

#: the values the booster's numeric parameters may take
BOUNDS = {
    "hgb__learning_rate": Bound(0, low_open=True),
    "hgb__max_leaf_nodes": Bound(2, integer=True),
    "hgb__min_samples_leaf": Bound(1, integer=True),
    "hgb__l2_regularization": Bound(0),
    "hgb__max_iter": Bound(1, MAX_ITER, integer=True),
    "hgb__max_features": Bound(0, 1, low_open=True),
}


def booster_parameters():
    """List the names a config may set behind ``hgb__``.

    Returns
    -------
    set of str
        The arguments of scikit-learn's two histogram boosters, less those
        the wrapper sets itself (``RESERVED``).
    """
    import inspect

    names = set()
    for cls in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        names |= set(inspect.signature(cls).parameters)
    return names - set(RESERVED)


def booster_params(config):
    """Extract the booster's arguments from a trial config.

    Parameters
    ----------
    config : dict
        A trial config; its ``hgb__`` keys are the booster's arguments
        (``DEFAULTS`` fill the ones it lacks).

    Returns
    -------
    dict
        The arguments, without the prefix.

    Raises
    ------
    ValueError
        If the config sets an argument the wrapper owns (``RESERVED``).

    Examples
    --------
    >>> from skautodl.networks.hgb import booster_params
    >>> booster_params({"hgb__max_iter": 50, "lr": 1e-3})["max_iter"]
    50
    """
    params = {**DEFAULTS, **{k: v for k, v in config.items()
                             if k.startswith(PREFIX)}}
    params = {k[len(PREFIX):]: v for k, v in params.items()}
    reserved = sorted(set(params) & set(RESERVED))
    if reserved:
        raise ValueError(f"The hgb family sets {reserved} itself; remove "
                         f"{[PREFIX + r for r in reserved]} from search_space.")
    return params


class HGBModel(BaseEstimator):
    """Gradient-boosted trees fitted the way a trial fits a network.

    Parameters
    ----------
    params : dict
        The booster's arguments (:func:`booster_params`); ``max_iter`` is
        the most boosting iterations.
    classes : array-like or None
        The user's labels (classifier): ``fit`` takes indices into them.
    random_state : int
        The trial's seed.

    Attributes
    ----------
    estimators_ : list
        One fitted booster (one per target column for multi-output
        regression).
    n_iter_ : int
        Boosting iterations kept (the largest over target columns).
    stopped_ : bool
        Whether the deadline stopped boosting before ``max_iter`` (or early
        stopping).
    """

    def __init__(self, params=None, classes=None, random_state=0):
        self.params = params
        self.classes = classes
        self.random_state = random_state

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimators_")

    def _booster(self, validation):
        cls = (HistGradientBoostingClassifier if self.classes is not None
               else HistGradientBoostingRegressor)
        params = dict(self.params or {})
        params.pop("max_iter", None)
        return cls(**params, early_stopping=validation, warm_start=True,
                   max_iter=CHUNK, random_state=int(self.random_state) % 2**32)

    def fit(self, X, y, *, X_val=None, y_val=None, deadline=None):
        """Boost on ``(X, y)``, early stopping on ``(X_val, y_val)`` if given.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Featurized rows.
        y : ndarray
            Class indices (classifier) or targets (1-D or 2-D).
        X_val, y_val : ndarray, optional
            Validation rows for early stopping (the trial's split); without
            them the booster runs exactly ``max_iter`` iterations (the refit).
        deadline : float, optional
            ``time.time()`` after which no new chunk of :data:`CHUNK`
            iterations starts (when the last chunk's time says it would end
            past it); the first chunk always runs.

        Returns
        -------
        HGBModel
            The fitted model itself.
        """
        max_iter = int((self.params or {}).get("max_iter", DEFAULTS["hgb__max_iter"]))
        y = np.asarray(y)
        columns = [y] if y.ndim == 1 or self.classes is not None else \
            [y[:, j] for j in range(y.shape[1])]
        val_columns = [None] * len(columns)
        if X_val is not None:
            y_val = np.asarray(y_val)
            val_columns = [y_val] if len(columns) == 1 and y_val.ndim == 1 else \
                [y_val.reshape(len(y_val), -1)[:, j] for j in range(len(columns))]
        self.estimators_, self.stopped_ = [], False
        for target, target_val in zip(columns, val_columns, strict=True):
            booster = self._booster(X_val is not None)
            done, last = 0, 0.0
            while done < max_iter:
                if done and deadline is not None and time.time() + last > deadline:
                    self.stopped_ = True
                    break
                t0 = time.perf_counter()
                booster.set_params(max_iter=min(max_iter, done + CHUNK))
                if X_val is None:
                    booster.fit(X, target)
                else:
                    booster.fit(X, target, X_val=X_val, y_val=target_val)
                last = time.perf_counter() - t0
                if booster.n_iter_ < booster.max_iter:  # early stopping
                    break
                done = booster.n_iter_
            self.estimators_.append(booster)
        self.n_iter_ = max(int(b.n_iter_) for b in self.estimators_)
        self.target_ndim_ = y.ndim
        return self


class HGBClassifierModel(ClassifierMixin, HGBModel):
    """:class:`HGBModel` for classification (a scikit-learn classifier).

    Parameters
    ----------
    params : dict or None, default=None
        The booster's arguments (:func:`booster_params`).
    classes : array-like or None, default=None
        The user's labels; ``fit`` takes indices into them.
    random_state : int, default=0
        The trial's seed.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.networks.hgb import HGBClassifierModel
    >>> X = np.arange(40, dtype=float).reshape(20, 2)
    >>> y = np.repeat([0, 1], 10)  # indices into classes
    >>> model = HGBClassifierModel({"max_iter": 10, "min_samples_leaf": 2},
    ...                            classes=["no", "yes"])
    >>> model.fit(X, y).predict(X[[0, -1]])
    array(['no', 'yes'], dtype='<U3')
    """

    @property
    def classes_(self):
        """The user's labels, the columns of :meth:`predict_proba`."""
        return np.asarray(self.classes)

    def predict_proba(self, X):
        """Predict class probabilities.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Featurized rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes``; a class missing from the
            training split has probability 0.
        """
        booster = self.estimators_[0]
        proba = np.zeros((len(X), len(self.classes)), dtype=np.float64)
        # a training split may lack a class: its column stays 0
        proba[:, np.asarray(booster.classes_, dtype=np.int64)] = \
            booster.predict_proba(X)
        return proba

    def predict(self, X):
        """Predict the labels of highest probability.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Featurized rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            The user's labels.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class HGBRegressorModel(RegressorMixin, HGBModel):
    """:class:`HGBModel` for (multi-output) regression: one booster per target.

    Parameters
    ----------
    params : dict or None, default=None
        The booster's arguments (:func:`booster_params`).
    classes : array-like or None, default=None
        The user's labels (unused: None for a regressor).
    random_state : int, default=0
        The trial's seed.
    """

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Featurized rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when the model was fitted on a 1-D ``y``.
        """
        out = np.column_stack([b.predict(X) for b in self.estimators_])
        return out.ravel() if self.target_ndim_ == 1 else out


def make_model(config, task, classes=None, seed=0):
    """Build an unfitted tree model of ``config`` for ``task``.

    Parameters
    ----------
    config : dict
        A trial config of the ``"hgb"`` family.
    task : skautodl.data.validation.TaskInfo
        The task (classification or regression).
    classes : array-like or None, default=None
        The user's labels (classification).
    seed : int, default=0
        The trial's seed.

    Returns
    -------
    HGBClassifierModel or HGBRegressorModel
        The model, unfitted.

    Raises
    ------
    ValueError
        If the config sets an argument the wrapper owns.
    """
    params = booster_params(config)
    if task.is_classification:
        return HGBClassifierModel(params, classes=list(classes), random_state=seed)
    return HGBRegressorModel(params, random_state=seed)
