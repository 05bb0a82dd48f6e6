"""Holdout and k-fold splits, stratified for classes, from one seed."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import (
    KFold,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)

#: fewest validation rows per split of a regression (``cv=None`` or an int)
_MIN_REGRESSION_VALID = 2
#: fewest rows on each side of the holdout split (``cv=None``): one
#: validation row cannot rank trials (and R2 is undefined on it)
MIN_SPLIT_ROWS = 2


def make_splits(X, y, *, cv, validation_fraction, classification, seed):
    """Split the rows into training and validation indices.

    Parameters
    ----------
    X : array-like
        Not used: the splits depend on ``y`` alone (a user's splitter gets
        placeholder rows of ``len(y)``, so splitters that read ``X``, such
        as ``GroupKFold`` with its groups, cannot see it).
    y : ndarray
        Targets; class labels are used to stratify.
    cv : None, int, splitter or iterable
        ``None`` gives one holdout split of ``validation_fraction``; an int
        gives that many (stratified) shuffled folds; anything else is passed
        to :func:`sklearn.model_selection.check_cv`.
    validation_fraction : float
        Size of the holdout split when ``cv`` is None: it must leave at
        least :data:`MIN_SPLIT_ROWS` rows on each side (else ValueError naming
        the fractions that work). ``cv=k`` of a regression needs ``n >= 2 k``
        (R2 is undefined on one row); a user's splitter is followed as it is.
    classification : bool
        Whether to stratify on ``y``.
    seed : int
        Seed for shuffling.

    Returns
    -------
    list of (ndarray, ndarray)
        ``(train_index, valid_index)`` per split: one pair for a holdout,
        one per fold otherwise.

    Raises
    ------
    ValueError
        If a split would leave too few rows on either side (see
        ``validation_fraction``), ``cv`` asks for more folds than rows, or
        a user's splitter yields an empty side.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.splits import make_splits
    >>> y = np.array([0, 1] * 10)
    >>> [(len(t), len(v)) for t, v in make_splits(
    ...     None, y, cv=None, validation_fraction=0.2, classification=True,
    ...     seed=0)]
    [(16, 4)]
    >>> [(len(t), len(v)) for t, v in make_splits(
    ...     None, y, cv=5, validation_fraction=0.2, classification=True,
    ...     seed=0)]
    [(16, 4), (16, 4), (16, 4), (16, 4), (16, 4)]
    """
    n = len(y)
    if cv is None:
        n_valid = int(np.ceil(validation_fraction * n))
        if min(n_valid, n - n_valid) < MIN_SPLIT_ROWS:
            low = MIN_SPLIT_ROWS / n
            high = 1 - MIN_SPLIT_ROWS / n
            advice = (f"use a validation_fraction between {low:.3g} and "
                      f"{high:.3g}, or more samples" if low <= high
                      else f"use at least {2 * MIN_SPLIT_ROWS} samples")
            raise ValueError(
                f"validation_fraction={validation_fraction!r} leaves {n_valid} "
                f"validation and {n - n_valid} training rows of n_samples={n}; "
                f"each side needs at least {MIN_SPLIT_ROWS} rows: {advice}."
            )
        splitter = None
        if classification:
            _, counts = np.unique(y, return_counts=True)
            # stratification needs two members per class and room for every
            # class on both sides; otherwise fall back to a plain shuffle
            if counts.min() >= 2 and len(counts) <= min(n_valid, n - n_valid):
                splitter = StratifiedShuffleSplit(
                    n_splits=1, test_size=n_valid, random_state=seed
                )
        if splitter is None:
            splitter = ShuffleSplit(n_splits=1, test_size=n_valid, random_state=seed)
        return [tuple(map(np.asarray, s)) for s in splitter.split(np.zeros(n), y)]

    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv > n:
            raise ValueError(
                f"cv={cv} asks for {cv} folds, but there are only n_samples={n} "
                "samples; use fewer folds or cv=None for a holdout split."
            )
        if not classification and n // cv < _MIN_REGRESSION_VALID:
            fewer = (f"cv={n // _MIN_REGRESSION_VALID} or fewer"
                     if n // _MIN_REGRESSION_VALID >= 2 else "cv=None (a holdout)")
            raise ValueError(
                f"cv={cv} leaves {n // cv} validation row in the smallest fold of "
                f"n_samples={n} samples; a regression needs at least "
                f"{_MIN_REGRESSION_VALID} validation rows per fold (R2 is undefined "
                f"on a single row): use {fewer}, or more samples."
            )
        if classification:
            _, counts = np.unique(y, return_counts=True)
            if counts.max() >= cv:
                splitter = StratifiedKFold(n_splits=cv, shuffle=True,
                                           random_state=seed)
            else:
                splitter = KFold(n_splits=cv, shuffle=True, random_state=seed)
        else:
            splitter = KFold(n_splits=cv, shuffle=True, random_state=seed)
    else:
        splitter = check_cv(cv, y, classifier=classification)
    splits = [tuple(map(np.asarray, s)) for s in splitter.split(np.zeros(n), y)]
    for k, (train, valid) in enumerate(splits):
        if len(train) == 0 or len(valid) == 0:
            side = "training" if len(train) == 0 else "validation"
            raise ValueError(
                f"cv produced an empty {side} set in split {k}; every split needs "
                "samples on both sides."
            )
    return splits


def nested_order(train_index, y, *, classification, seed):
    """``train_index`` reordered so that every prefix is a stratified subsample.

    Data-size fidelity trains low rungs on the first ``n`` training rows
    (a view, no copy): each class gets its share of any prefix (within one
    row), and the prefixes are nested, so a promoted trial continues on a
    superset of the rows it trained on. Each row's key is its position
    within its class, jittered and divided by the class count; rows are
    sorted by key. A regression is ordered the same way over 10 quantile
    bins of ``y``.

    Parameters
    ----------
    train_index : ndarray of int
        The training rows of a split.
    y : ndarray
        Targets of all rows (indexed by ``train_index``).
    classification : bool
        Stratify on the classes (True) or on 10 quantile bins of ``y``.
    seed : int
        Seed of the order within each stratum.

    Returns
    -------
    ndarray
        A permutation of ``train_index``.
    """
    train_index = np.asarray(train_index)
    rng = np.random.RandomState(seed)
    target = np.asarray(y)[train_index]
    if classification:
        _, strata = np.unique(target, return_inverse=True)
    else:
        values = np.asarray(target, dtype=np.float64)
        values = values.reshape(len(train_index), -1)[:, 0]
        edges = np.unique(np.nanquantile(values, np.linspace(0, 1, 11)[1:-1]))
        strata = np.searchsorted(edges, values, side="right")
    strata = np.asarray(strata).ravel()
    keys = np.empty(len(train_index))
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        order = rng.permutation(len(rows))
        jitter = rng.uniform(size=len(rows))
        keys[rows[order]] = (np.arange(len(rows)) + jitter) / len(rows)
    return train_index[np.argsort(keys, kind="stable")]
