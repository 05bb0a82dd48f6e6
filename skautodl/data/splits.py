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


def make_splits(X, y, *, cv, validation_fraction, classification, seed):
    """Return a list of ``(train_index, valid_index)`` pairs.

    Parameters
    ----------
    X : array-like
        Only its length is used (and passed to a user's splitter).
    y : ndarray
        Targets; class labels are used to stratify.
    cv : None, int, splitter or iterable
        ``None`` gives one holdout split of ``validation_fraction``; an int
        gives that many (stratified) shuffled folds; anything else is passed
        to :func:`sklearn.model_selection.check_cv`.
    validation_fraction : float
        Size of the holdout split when ``cv`` is None.
    classification : bool
        Whether to stratify on ``y``.
    seed : int
        Seed for shuffling.
    """
    n = len(y)
    if cv is None:
        n_valid = int(np.ceil(validation_fraction * n))
        n_valid = min(max(n_valid, 1), n - 1)
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
