"""Tests of skautodl/data/splits.py: make_splits."""

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, PredefinedSplit

from skautodl.data.splits import make_splits


def _labels(n=100, minority=0.2):
    n_min = int(n * minority)
    return np.array(["rare"] * n_min + ["common"] * (n - n_min))


def _assert_partition(train, valid, n):
    assert len(np.intersect1d(train, valid)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])),
                                  np.arange(n))


@pytest.mark.parametrize("fraction, n_valid", [(0.2, 20), (0.25, 25), (0.1, 10)])
def test_holdout_sizes(fraction, n_valid):
    y = np.arange(100, dtype=float)
    splits = make_splits(np.zeros((100, 2)), y, cv=None, validation_fraction=fraction,
                         classification=False, seed=0)
    assert len(splits) == 1
    train, valid = splits[0]
    assert len(valid) == n_valid and len(train) == 100 - n_valid
    _assert_partition(train, valid, 100)


def test_holdout_rounds_up():
    y = np.arange(10, dtype=float)
    (train, valid), = make_splits(np.zeros((10, 1)), y, cv=None,
                                  validation_fraction=0.15, classification=False,
                                  seed=0)
    assert len(valid) == 2 and len(train) == 8  # ceil(1.5)
    (train, valid), = make_splits(np.zeros((10, 1)), y, cv=None,
                                  validation_fraction=0.79, classification=False,
                                  seed=0)
    assert len(valid) == 8 and len(train) == 2


def test_holdout_is_stratified():
    y = _labels(100, minority=0.2)
    (train, valid), = make_splits(np.zeros((100, 1)), y, cv=None,
                                  validation_fraction=0.25, classification=True,
                                  seed=3)
    # 20 % rare overall -> exactly 5 of 25 validation rows with stratification
    assert np.sum(y[valid] == "rare") == 5
    assert np.sum(y[train] == "rare") == 15


def test_holdout_falls_back_when_a_class_is_too_small():
    y = np.array(["a"] * 19 + ["b"])  # "b" has a single member
    (train, valid), = make_splits(np.zeros((20, 1)), y, cv=None,
                                  validation_fraction=0.2, classification=True,
                                  seed=0)
    assert len(valid) == 4
    _assert_partition(train, valid, 20)


@pytest.mark.parametrize("cv", [2, 3, 5])
def test_kfold_count_and_coverage(cv):
    y = _labels(60, minority=0.5)
    splits = make_splits(np.zeros((60, 1)), y, cv=cv, validation_fraction=0.2,
                         classification=True, seed=0)
    assert len(splits) == cv
    for train, valid in splits:
        _assert_partition(train, valid, 60)
    # every sample is validated exactly once
    all_valid = np.concatenate([v for _, v in splits])
    np.testing.assert_array_equal(np.sort(all_valid), np.arange(60))


def test_kfold_is_stratified_for_classes():
    y = _labels(100, minority=0.2)
    splits = make_splits(np.zeros((100, 1)), y, cv=5, validation_fraction=0.2,
                         classification=True, seed=1)
    for _, valid in splits:
        assert np.sum(y[valid] == "rare") == 4


def test_kfold_regression():
    y = np.linspace(0, 1, 30)
    splits = make_splits(np.zeros((30, 1)), y, cv=3, validation_fraction=0.2,
                         classification=False, seed=0)
    assert [len(v) for _, v in splits] == [10, 10, 10]


def test_cv_larger_than_n_samples_raises_naming_cv():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="cv=5") as info:
        make_splits(np.zeros((4, 1)), y, cv=5, validation_fraction=0.2,
                    classification=True, seed=0)
    assert "n_samples=4" in str(info.value)


def test_custom_splitter_is_used():
    X = np.zeros((12, 1))
    y = np.arange(12, dtype=float)
    groups = np.repeat([0, 1, 2], 4)
    splits = make_splits(X, y, cv=GroupKFold(n_splits=3).split(X, y, groups),
                         validation_fraction=0.2, classification=False, seed=0)
    assert len(splits) == 3
    for _, valid in splits:
        assert len(np.unique(groups[valid])) == 1


def test_predefined_splitter_is_followed_exactly():
    test_fold = np.array([0, 0, 1, 1, -1, -1])
    splits = make_splits(np.zeros((6, 1)), np.arange(6.0),
                         cv=PredefinedSplit(test_fold), validation_fraction=0.2,
                         classification=False, seed=0)
    assert len(splits) == 2
    np.testing.assert_array_equal(splits[0][1], [0, 1])
    np.testing.assert_array_equal(splits[1][1], [2, 3])
    np.testing.assert_array_equal(splits[0][0], [2, 3, 4, 5])


def test_iterable_with_empty_side_raises():
    bad = [(np.arange(5), np.array([], dtype=int))]
    with pytest.raises(ValueError, match="empty validation set in split 0"):
        make_splits(np.zeros((5, 1)), np.arange(5.0), cv=bad,
                    validation_fraction=0.2, classification=False, seed=0)


@pytest.mark.parametrize("cv", [None, 4])
@pytest.mark.parametrize("classification", [True, False])
def test_same_seed_same_split_other_seed_other_split(cv, classification):
    y = _labels(40, minority=0.5) if classification else np.arange(40.0)
    kwargs = {"cv": cv, "validation_fraction": 0.25,
              "classification": classification}
    a = make_splits(np.zeros((40, 1)), y, seed=7, **kwargs)
    b = make_splits(np.zeros((40, 1)), y, seed=7, **kwargs)
    c = make_splits(np.zeros((40, 1)), y, seed=8, **kwargs)
    for (ta, va), (tb, vb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(va, vb)
    assert any(not np.array_equal(va, vc)
               for (_, va), (_, vc) in zip(a, c, strict=True))


# ------------------------------------- small regressions (hardening issue, 6)
@pytest.mark.parametrize("classification", [True, False])
@pytest.mark.parametrize("n, fraction, words", [
    (5, 0.2, "leaves 1 validation and 4 training rows of n_samples=5"),
    (100, 0.01, "between 0.02 and 0.98"),
    (10, 0.9, "leaves 9 validation and 1 training rows"),
    (3, 0.5, "use at least 4 samples"),
])
def test_a_holdout_of_fewer_than_two_rows_raises_naming_the_fraction(
        classification, n, fraction, words):
    y = np.arange(n) % 2 if classification else np.arange(n * 1.0)
    with pytest.raises(ValueError, match=f"validation_fraction={fraction}") as info:
        make_splits(np.zeros((n, 1)), y, cv=None, validation_fraction=fraction,
                    classification=classification, seed=0)
    assert words in str(info.value) and "at least 2 rows" in str(info.value)


@pytest.mark.parametrize("n, fraction", [(4, 0.5), (5, 0.4), (100, 0.02)])
def test_a_holdout_of_two_rows_or_more_passes(n, fraction):
    (train, valid), = make_splits(np.zeros((n, 1)), np.arange(n * 1.0), cv=None,
                                  validation_fraction=fraction,
                                  classification=False, seed=0)
    assert len(valid) >= 2 and len(train) >= 2
    _assert_partition(train, valid, n)


def test_regression_folds_of_one_row_raise_naming_cv_and_n_samples():
    with pytest.raises(ValueError) as info:
        make_splits(np.zeros((9, 1)), np.arange(9.0), cv=5,
                    validation_fraction=0.2, classification=False, seed=0)
    msg = str(info.value)
    for words in ("cv=5", "n_samples=9", "1 validation row", "at least 2",
                  "cv=4"):
        assert words in msg
    splits = make_splits(np.zeros((10, 1)), np.arange(10.0), cv=5,
                         validation_fraction=0.2, classification=False, seed=0)
    assert min(len(v) for _, v in splits) == 2
