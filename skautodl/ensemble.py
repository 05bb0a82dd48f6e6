"""Ensemble selection over the trials' out-of-sample predictions.

Every finished trial leaves its predictions on the rows it was validated on
(the holdout split, or every row out of fold with ``cv``). The best of them
are kept (:class:`PredictionPool`, within a stated bound), and after the
search :func:`select` builds an ensemble by greedy forward selection with
replacement (Caruana et al., "Ensemble selection from libraries of models",
ICML 2004; as in auto-sklearn and AutoGluon): ``ensemble_size`` rounds, each
adding the trial whose predictions, averaged with those already chosen,
score best under the estimator's ``scoring``. A trial chosen ``c`` times of
``n`` weighs ``c / n``. :class:`Ensemble` predicts the weighted mean of its
members' probabilities (classifier) or values (regressor); a classifier's
blend is then temperature-scaled (:func:`fit_temperature`, fitted on the
same out-of-sample rows) so that its probabilities are calibrated.
"""

from __future__ import annotations

import base64
import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer

logger = logging.getLogger("skautodl")

#: trials whose out-of-sample predictions are kept at most, whatever the size
MAX_POOL = 100


# ---------------------------------------------------------------------- pool
class PredictionPool:
    """Out-of-sample predictions of the best trials, at most ``size`` of them.

    Memory: ``size x rows x outputs x 4`` bytes (float32), where ``rows`` are
    the validation rows (all rows with ``cv``) and ``outputs`` the classes or
    target columns; 100 trials of 10,000 rows and 10 classes take 40 MB.

    Parameters
    ----------
    size : int
        Trials kept; when a better one arrives, the worst one (lowest score,
        then highest trial id) is dropped.
    """

    def __init__(self, size):
        self.size = int(size)
        self.predictions = {}  # trial_id -> float32 array
        self.scores = {}

    def __len__(self):
        return len(self.predictions)

    def __contains__(self, trial_id):
        return trial_id in self.predictions

    def ranked(self):
        """Rank the kept trials by score.

        Returns
        -------
        list of int
            Trial ids, best score first (ties: lower trial id first).
        """
        return sorted(self.scores, key=lambda t: (-self.scores[t], t))

    def add(self, result):
        """Keep a trial's predictions if it is among the best ``size``.

        Failed trials and trials without out-of-sample predictions are
        ignored; the worst trial kept is dropped when the pool is full.

        Parameters
        ----------
        result : skautodl.training.trial.TrialResult
            A finished trial; its ``valid_predictions`` (one array per
            split) are concatenated in split order.
        """
        if not result.ok or not result.valid_predictions or self.size < 1:
            return
        self.predictions[result.trial_id] = np.concatenate(
            [np.asarray(p, dtype=np.float32) for p in result.valid_predictions])
        self.scores[result.trial_id] = float(result.score)
        for trial_id in self.ranked()[self.size:]:
            del self.predictions[trial_id], self.scores[trial_id]

    def state(self):
        """Return the pool as JSON-ready data, for a checkpoint.

        Returns
        -------
        dict
            ``{str(trial_id): [score, dtype, shape, base64 of the bytes]}``.

        See Also
        --------
        load_state : The inverse.
        """
        return {str(t): [self.scores[t], "float32", list(p.shape),
                         base64.b64encode(np.ascontiguousarray(p).tobytes())
                         .decode("ascii")]
                for t, p in self.predictions.items()}

    def load_state(self, state):
        """Add the trials of a saved :meth:`state` to the pool.

        Parameters
        ----------
        state : dict or None
            What :meth:`state` returned (None: nothing to add).

        Returns
        -------
        PredictionPool
            The pool itself.
        """
        for key, (score, dtype, shape, data) in (state or {}).items():
            array = np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype))
            self.predictions[int(key)] = array.reshape(shape).copy()
            self.scores[int(key)] = float(score)
        return self


# ---------------------------------------------------------------------- selection
class _Blend(BaseEstimator):
    """Fixed predictions dressed as a fitted estimator, for scikit-learn scorers."""

    def __init__(self, output, classes=None):
        self.output = output
        self.classes = classes

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted
        return self


class _ClassifierBlend(ClassifierMixin, _Blend):
    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.output

    def predict(self, X):
        return np.asarray(self.classes)[np.argmax(self.output, axis=1)]


def label_probabilities(proba):
    """Convert label probabilities to scikit-learn's multi-output layout.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_labels)
        The probability that each label is on.

    Returns
    -------
    list of ndarray of shape (n_samples, 2)
        One array per label: the probabilities of 0 and of 1, as
        scikit-learn's multi-output classifiers return them.

    Examples
    --------
    >>> from skautodl.ensemble import label_probabilities
    >>> label_probabilities([[0.9, 0.2]])
    [array([[0.1, 0.9]]), array([[0.8, 0.2]])]
    """
    proba = np.asarray(proba, dtype=np.float64)
    return [np.column_stack([1.0 - proba[:, j], proba[:, j]])
            for j in range(proba.shape[1])]


def label_indicators(proba, dtype):
    """Turn label probabilities into an indicator matrix (on above 0.5).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_labels)
        The probability that each label is on.
    dtype : numpy.dtype or type
        The dtype of the result (that of the training labels).

    Returns
    -------
    ndarray of shape (n_samples, n_labels)
        1 where the probability is above 0.5, else 0.

    Examples
    --------
    >>> from skautodl.ensemble import label_indicators
    >>> label_indicators([[0.9, 0.2], [0.5, 0.51]], int)
    array([[1, 0],
           [0, 1]])
    """
    return (np.asarray(proba) > 0.5).astype(dtype)


def member_models(member):
    """List the fitted pipelines of an ensemble member.

    Parameters
    ----------
    member : BaggedModel or sklearn.pipeline.Pipeline
        A member of an estimator's ``ensemble_``.

    Returns
    -------
    list
        A bag's fold models, or ``[member]``.
    """
    return list(member.models) if isinstance(member, BaggedModel) else [member]


class _MultilabelBlend(_ClassifierBlend):
    def predict_proba(self, X):
        return label_probabilities(self.output)

    def predict(self, X):
        return label_indicators(self.output, np.asarray(self.classes[0]).dtype)


class _RegressorBlend(RegressorMixin, _Blend):
    def __sklearn_is_fitted__(self):
        return True

    def predict(self, X):
        return self.output


def _renormalized(output):
    """Blended probabilities in float64, each row summing to one again
    (the pool stores float32)."""
    output = np.asarray(output, dtype=np.float64)
    return output / output.sum(axis=1, keepdims=True)


def _log_loss(proba, rows):
    """Mean negative log probability of the true class indices ``rows``."""
    true = np.clip(proba[np.arange(len(rows)), rows], 1e-15, 1.0)
    return -float(np.mean(np.log(true)))


def blend_scorer(scorer, task, classes, default):
    """Build the function that scores blended predictions of a task.

    Uses the estimator's ``scoring`` through a stand-in estimator whose
    ``predict`` / ``predict_proba`` return the blend. A callable scorer that
    needs a real trial network cannot score a blend: then the task's
    default metric (``default``) ranks the blends, with a warning.

    Parameters
    ----------
    scorer : callable
        The search's scorer, ``scorer(estimator, X, y)``.
    task : skautodl.data.validation.TaskInfo
        The task (classification, multi-label or regression).
    classes : ndarray, list or None
        The classifier's labels (the columns of the blended
        probabilities); None for a regressor.
    default : str
        The scorer name used when ``scorer`` cannot score a blend
        (``"accuracy"`` or ``"r2"``).

    Returns
    -------
    callable
        ``score(output, y) -> float``, higher is better, where ``output``
        is a blend of pooled predictions and ``y`` the user's targets.
    """
    def wrap(output):
        if task.is_classification:
            return _ClassifierBlend(_renormalized(output), classes)
        if task.is_multilabel:
            return _MultilabelBlend(np.asarray(output, np.float64), classes)
        return _RegressorBlend(output)

    def score(output, y):
        return float(scorer(wrap(output), np.zeros((len(y), 1)), y))

    def fallback(output, y):
        return float(get_scorer(default)(wrap(output), np.zeros((len(y), 1)), y))

    def checked(output, y):
        nonlocal use
        try:
            return use(output, y)
        except (AttributeError, TypeError) as exc:
            if use is fallback:
                raise
            warnings.warn(
                f"The scoring callable cannot score blended predictions "
                f"({type(exc).__name__}: {exc}); the ensemble is selected by "
                f"{default!r} instead.", UserWarning, stacklevel=2)
            use = fallback
            return use(output, y)

    use = score
    return checked


def blend_tiebreak(task, classes):
    """Build the function that breaks ties between blends of equal score.

    Accuracy on a few hundred validation rows ties often; among blends of
    equal score the one with the lower log loss (classifier: better
    calibrated probabilities; multi-label: mean binary log loss) or squared
    error (regressor) is preferred.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task (classification, multi-label or regression).
    classes : ndarray or None
        The classifier's labels, in the column order of the blend.

    Returns
    -------
    callable
        ``tiebreak(output, y) -> float``, higher is better.
    """
    if task.is_classification:
        index = {label: i for i, label in enumerate(np.asarray(classes).tolist())}

        def tiebreak(output, y):
            rows = np.array([index[v] for v in np.asarray(y).tolist()])
            return -_log_loss(_renormalized(output), rows)
    elif task.is_multilabel:
        def tiebreak(output, y):  # mean binary log loss over the labels
            p = np.clip(np.asarray(output, np.float64), 1e-15, 1 - 1e-15)
            on = np.asarray(y) > 0
            return float(np.mean(np.where(on, np.log(p), np.log1p(-p))))
    else:
        def tiebreak(output, y):
            diff = np.asarray(output, np.float64).reshape(len(y), -1) - \
                np.asarray(y, np.float64).reshape(len(y), -1)
            return -float(np.mean(diff ** 2))
    return tiebreak


def blend(pool, weights):
    """Blend pooled predictions with the given weights.

    Parameters
    ----------
    pool : PredictionPool
        Holds the trials' out-of-sample predictions.
    weights : dict of int to float
        ``{trial_id: weight}``, as :func:`select` returns it.

    Returns
    -------
    ndarray
        The weighted sum (a mean, with weights summing to 1) of the
        trials' predictions, in float64.
    """
    return sum(w * pool.predictions[t].astype(np.float64)
               for t, w in sorted(weights.items()))


def _sharpen(proba, temperature):
    """``proba ** (1 / temperature)``, rows renormalized: temperature scaling
    (softmax of ``log(proba) / temperature``) of probabilities."""
    proba = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return proba
    with np.errstate(divide="ignore", under="ignore"):
        logp = np.log(np.clip(proba, 0.0, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)


def _confidence(proba):
    """Mean top probability of the rows of ``proba``."""
    return float(np.mean(np.max(proba, axis=1)))


def member_floor(proba, members):
    """Find how far a blend may be sharpened: the confidence of its members.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        The blend's probabilities.
    members : list of ndarray of shape (n_samples, n_classes)
        The members' probabilities on the same rows.

    Returns
    -------
    float
        The lowest temperature (at least 0.05) at which the blend is no
        more confident (mean top probability) than the most confident
        member; 1.0 when it already is at least as confident as all of
        them.
    """
    from scipy.optimize import brentq

    proba = _renormalized(proba)
    target = max(_confidence(_renormalized(m)) for m in members)
    if _confidence(proba) >= target:
        return 1.0

    def gap(log_t):
        return _confidence(_sharpen(proba, float(np.exp(log_t)))) - target

    low = np.log(0.05)
    if gap(low) <= 0:
        return 0.05
    return float(np.exp(brentq(gap, low, 0.0, xtol=1e-4)))


def fit_temperature(proba, y_index, bounds=(0.05, 20.0), members=None):
    """The temperature that minimizes the log loss of ``proba`` on ``y_index``.

    Temperature scaling (Guo et al., "On calibration of modern neural
    networks", ICML 2017) fixes the confidence of a blend without moving
    its argmax, so accuracy is unchanged: averaging members that disagree
    makes a blend under-confident, and members trained with mixup or label
    smoothing are under-confident to begin with.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Out-of-sample probabilities (the ensemble's blend on the rows it
        was selected on).
    y_index : ndarray of shape (n_samples,)
        Class indices.
    bounds : (float, float)
        Range of the temperature searched.
    members : list of ndarray, optional
        The members' own probabilities on the same rows: the blend is then
        never sharpened past the most confident of them
        (:func:`member_floor`). The estimator passes them when its members
        are refitted on all rows (a holdout): those refits are not the
        models whose predictions the temperature was fitted on, and they
        are more confident than them; a near-perfect holdout otherwise asks
        for unbounded confidence (temperature 0.16 on digits, where the
        test log loss rose above the best trial's). With bagging the
        fitted temperature is kept as it is: the out-of-fold predictions
        are the members' own. See docs/benchmarks.md, "Temperature".

    Returns
    -------
    float
        The temperature (1.0 when no other lowers the log loss).
    """
    from scipy.optimize import minimize_scalar

    proba = _renormalized(proba)
    rows = np.asarray(y_index, dtype=np.int64)

    def loss(log_t):
        return _log_loss(_sharpen(proba, float(np.exp(log_t))), rows)

    found = minimize_scalar(loss, bounds=np.log(bounds), method="bounded",
                            options={"xatol": 1e-3})
    best = float(np.exp(found.x))
    if members is not None and best < 1.0:
        best = max(best, member_floor(proba, members))
    # never worse than the blend as it is
    return best if loss(np.log(best)) < loss(0.0) else 1.0


def select(pool, y_true, score, rounds, tiebreak=None):
    """Greedy forward selection with replacement over ``pool``.

    Parameters
    ----------
    pool : PredictionPool
        The candidates' out-of-sample predictions.
    y_true : ndarray
        Targets of the rows the predictions are on (the user's labels for a
        classifier).
    score : callable
        ``score(output, y) -> float``, higher is better (:func:`blend_scorer`).
    rounds : int
        ``ensemble_size``.
    tiebreak : callable, optional
        ``tiebreak(output, y) -> float``, higher is better
        (:func:`blend_tiebreak`): decides between candidates, and between
        rounds, of equal ``score``.

    Returns
    -------
    weights : dict
        ``{trial_id: weight}``, weights summing to 1, of the round whose
        blend scored best (the latest of equal bests: more members, same
        score).
    history : list of float
        The blend's score after each round.

    Notes
    -----
    Candidates are visited in trial-id order and a candidate must beat the
    best so far strictly (on ``score``, then ``tiebreak``), so complete
    ties go to the lowest trial id; with ``rounds=1`` and no ``tiebreak``
    the choice is exactly the best single trial.

    Examples
    --------
    Two trials right on different rows: their average beats either.

    >>> import numpy as np
    >>> from sklearn.metrics import accuracy_score
    >>> from skautodl.ensemble import PredictionPool, select
    >>> pool = PredictionPool(10)
    >>> pool.predictions = {0: np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]),
    ...                     1: np.array([[0.4, 0.6], [0.1, 0.9], [0.1, 0.9]])}
    >>> pool.scores = {0: 2 / 3, 1: 2 / 3}
    >>> def score(output, y):
    ...     return accuracy_score(y, output.argmax(axis=1))
    >>> select(pool, np.array([0, 1, 1]), score, rounds=2)
    ({0: 0.5, 1: 0.5}, [0.666..., 1.0])
    """
    def key(output):
        value = score(output, y_true)
        return (value, tiebreak(output, y_true) if tiebreak is not None else 0.0)

    candidates = sorted(pool.predictions)
    if not candidates:
        return {}, []
    total = None
    counts, history, chosen = {}, [], []
    best_round, best_key = 0, None
    for r in range(1, int(rounds) + 1):
        pick, pick_key = None, None
        for trial_id in candidates:
            preds = pool.predictions[trial_id]
            blend = preds if total is None else (total + preds) / r
            value = key(blend)
            if pick is None or value > pick_key:
                pick, pick_key = trial_id, value
        preds = pool.predictions[pick].astype(np.float64)
        total = preds if total is None else total + preds
        counts[pick] = counts.get(pick, 0) + 1
        chosen.append(dict(counts))
        history.append(pick_key[0])
        if best_key is None or pick_key >= best_key:
            best_round, best_key = r, pick_key
    final = chosen[best_round - 1]
    n = sum(final.values())
    return {t: c / n for t, c in sorted(final.items())}, history


# ---------------------------------------------------------------------- models
class BaggedModel(BaseEstimator):
    """The fold models of one configuration, averaged (k-fold bagging).

    Parameters
    ----------
    models : list of Pipeline
        One fitted ``Pipeline(featurizer, net)`` per fold.
    """

    def __init__(self, models):
        self.models = models

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        """The class labels of the fold models (classifiers only)."""
        return self.models[0].classes_

    def predict_proba(self, X):
        """Average the fold models' probabilities.

        Parameters
        ----------
        X : array-like or pandas.DataFrame
            Raw rows; each fold model featurizes them itself.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The mean probabilities (multi-label: of each label,
            ``(n_samples, n_labels)``).
        """
        return np.mean([m.predict_proba(X) for m in self.models], axis=0)

    def predict(self, X):
        """Predict from the averaged fold models.

        Parameters
        ----------
        X : array-like or pandas.DataFrame
            Raw rows.

        Returns
        -------
        ndarray
            Labels of the mean probabilities (classifier), the indicator
            matrix of the labels' mean probabilities (multi-label), or the
            mean of the fold models' values (regressor).
        """
        net = self.models[0][-1]
        if hasattr(net, "label_dtype"):  # multi-label: the mean probability
            return label_indicators(self.predict_proba(X), net.label_dtype)
        if hasattr(net, "classes_"):
            return np.asarray(net.classes_)[self.predict_proba(X).argmax(axis=1)]
        return np.mean([m.predict(X) for m in self.models], axis=0)


#: rows an ensemble predicts at a time (see :class:`Ensemble`)
PREDICT_BATCH_ROWS = 65536


class Ensemble(BaseEstimator):
    """The weighted mean of fitted members' predictions.

    Parameters
    ----------
    members : list of (estimator, float)
        Fitted members (a refitted ``Pipeline`` or a :class:`BaggedModel`)
        and their weights, summing to 1.
    classes : ndarray or None
        The classifier's labels; None for a regressor.
    temperature : float, default=1.0
        Temperature scaling of the blended probabilities
        (:func:`fit_temperature`); it never changes the predicted labels.
    batch_rows : int or None, default=None
        Rows predicted at a time (None: :data:`PREDICT_BATCH_ROWS`, 65,536):
        larger inputs stream through the featurizers and networks in slices
        of this many rows, so memory stays bounded by the slice, not the
        input. Every step is row-wise and the networks predict in float64,
        so the result is that of one pass (to rounding).
    multilabel : bool, default=False
        Multi-label members: ``predict_proba`` is the (n, n_labels) matrix
        of the labels' blended probabilities (no temperature) and
        ``predict`` the indicator matrix (a label is on above 0.5) in the
        dtype of ``classes[0]``.
    """

    def __init__(self, members, classes=None, temperature=1.0, batch_rows=None,
                 multilabel=False):
        self.members = members
        self.classes = classes
        self.temperature = temperature
        self.batch_rows = batch_rows
        self.multilabel = multilabel

    def __sklearn_is_fitted__(self):
        return True

    def _batched(self, X, blend_rows):
        try:
            n = _n_rows(X)
        except TypeError:  # not a table of rows: the members' business
            return blend_rows(X)
        step = max(1, int(self.batch_rows or PREDICT_BATCH_ROWS))
        if n <= step:
            return blend_rows(X)
        return np.concatenate([blend_rows(_slice_rows(X, i, i + step))
                               for i in range(0, n, step)])

    def _blend_proba(self, X):
        out = None
        for model, weight in self.members:
            p = np.asarray(model.predict_proba(X), dtype=np.float64) * weight
            out = p if out is None else out + p
        if self.multilabel:  # each label's probability: (n, n_labels)
            return out
        return _sharpen(out, float(self.temperature))

    def _blend_values(self, X):
        out = None
        for model, weight in self.members:
            p = np.asarray(model.predict(X), dtype=np.float64) * weight
            out = p if out is None else out + p
        return out

    def predict_proba(self, X):
        """Blend the members' probabilities.

        Parameters
        ----------
        X : array-like or pandas.DataFrame
            Raw rows, as the estimator's ``predict`` validated them.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The weighted mean of the members' probabilities, temperature
            scaled; multi-label: each label's blended probability,
            ``(n_samples, n_labels)``.
        """
        return self._batched(X, self._blend_proba)

    def predict(self, X):
        """Predict labels or values from the blend.

        Parameters
        ----------
        X : array-like or pandas.DataFrame
            Raw rows.

        Returns
        -------
        ndarray
            The class of highest blended probability (classifier), the
            indicator matrix (multi-label), or the weighted mean of the
            members' values (regressor).
        """
        if self.multilabel:
            return label_indicators(self.predict_proba(X),
                                    np.asarray(self.classes[0]).dtype)
        if self.classes is not None:
            return np.asarray(self.classes)[self.predict_proba(X).argmax(axis=1)]
        return self._batched(X, self._blend_values)


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _slice_rows(X, start, stop):
    """Rows ``start:stop`` of an array or DataFrame (a view where possible)."""
    if hasattr(X, "iloc"):
        return X.iloc[start:stop]
    return X[start:stop]
