"""Tests of skautodl/data/loaders.py: TensorBatchLoader.

(A few basic cases also run in tests/training/test_net.py, through the name
``skautodl.training.net`` re-exports.)
"""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset

from skautodl.data.loaders import TensorBatchLoader


def _dataset(n, as_tensor=True, with_y=True):
    """Rows whose features and target both hold the row's index."""
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2) // 2  # [[i, i], ...]
    y = np.arange(n, dtype=np.int64) if with_y else None
    if as_tensor:
        X = torch.from_numpy(X)
        y = None if y is None else torch.from_numpy(y)
    return Dataset(X, y)


def _rows(batches):
    """The row indices each batch holds, read from the features."""
    return [xb[:, 0].long().tolist() for xb, _ in batches]


@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]),
    (10, 4, True, [4, 4]),
    (12, 4, False, [4, 4, 4]),
    (12, 4, True, [4, 4, 4]),  # nothing to drop
    (3, 8, False, [3]),  # one short batch
    (3, 8, True, []),  # not even one full batch
    (7, 1, True, [1] * 7),
    (0, 4, False, []),
])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_sizes_and_len(n, batch_size, drop_last, sizes, shuffle):
    loader = TensorBatchLoader(_dataset(n), batch_size=batch_size,
                               drop_last=drop_last, shuffle=shuffle)
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == sizes
    assert [len(yb) for _, yb in batches] == sizes
    assert len(loader) == len(sizes)


def test_without_shuffle_batches_are_consecutive_slices():
    batches = list(TensorBatchLoader(_dataset(10), batch_size=4))
    assert _rows(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for xb, yb in batches:  # features and targets stay paired
        assert xb[:, 1].long().tolist() == yb.tolist()
    # the same order every epoch
    assert _rows(TensorBatchLoader(_dataset(10), batch_size=4)) == _rows(batches)


def test_drop_last_without_shuffle_drops_the_tail():
    loader = TensorBatchLoader(_dataset(10), batch_size=4, drop_last=True)
    assert _rows(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_follows_torchs_global_generator():
    loader = TensorBatchLoader(_dataset(23), batch_size=5, shuffle=True)
    torch.manual_seed(3)
    first = sum(_rows(loader), [])
    torch.manual_seed(3)
    expected = torch.randperm(23).tolist()
    torch.manual_seed(3)
    again = sum(_rows(loader), [])
    assert first == expected == again
    assert sorted(first) == list(range(23))  # every row exactly once
    assert first != list(range(23))


def test_shuffle_differs_between_epochs_and_seeds():
    loader = TensorBatchLoader(_dataset(40), batch_size=8, shuffle=True)
    torch.manual_seed(0)
    epoch1, epoch2 = sum(_rows(loader), []), sum(_rows(loader), [])
    torch.manual_seed(1)
    other_seed = sum(_rows(loader), [])
    for order in (epoch1, epoch2, other_seed):
        assert sorted(order) == list(range(40))
    assert epoch1 != epoch2
    assert epoch1 != other_seed


def test_shuffle_does_not_touch_numpys_generator():
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    list(TensorBatchLoader(_dataset(20), batch_size=4, shuffle=True))
    assert np.random.rand() == expected


def test_shuffle_with_drop_last_takes_distinct_rows_in_full_batches():
    loader = TensorBatchLoader(_dataset(23), batch_size=5, shuffle=True,
                               drop_last=True)
    torch.manual_seed(7)
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == [5, 5, 5, 5]
    rows = sum(_rows(batches), [])
    assert len(set(rows)) == 20 and set(rows) <= set(range(23))
    torch.manual_seed(7)
    assert rows == torch.randperm(23).tolist()[:20]
    for xb, yb in batches:
        assert xb[:, 1].long().tolist() == yb.tolist()


@pytest.mark.parametrize("shuffle", [False, True])
def test_without_targets_y_is_none(shuffle):
    loader = TensorBatchLoader(_dataset(5, with_y=False), batch_size=2,
                               shuffle=shuffle)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    assert all(yb is None for _, yb in batches)
    assert sorted(sum(_rows(batches), [])) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("shuffle", [False, True])
def test_numpy_and_tensor_inputs_give_the_same_batches(shuffle):
    torch.manual_seed(0)
    from_numpy = list(TensorBatchLoader(_dataset(11, as_tensor=False),
                                        batch_size=4, shuffle=shuffle))
    torch.manual_seed(0)
    from_tensor = list(TensorBatchLoader(_dataset(11, as_tensor=True),
                                         batch_size=4, shuffle=shuffle))
    assert len(from_numpy) == len(from_tensor) == 3
    for (xn, yn), (xt, yt) in zip(from_numpy, from_tensor, strict=True):
        assert isinstance(xn, torch.Tensor) and isinstance(yn, torch.Tensor)
        assert xn.dtype == xt.dtype == torch.float32
        assert yn.dtype == yt.dtype == torch.int64
        assert torch.equal(xn, xt) and torch.equal(yn, yt)


def test_dtypes_and_trailing_dimensions_are_kept():
    X = np.random.rand(6, 2, 3, 3)  # float64 images
    y = np.random.rand(6, 2).astype(np.float32)
    xb, yb = next(iter(TensorBatchLoader(Dataset(X, y), batch_size=4)))
    assert xb.dtype == torch.float64 and xb.shape == (4, 2, 3, 3)
    assert yb.dtype == torch.float32 and yb.shape == (4, 2)
    np.testing.assert_array_equal(xb.numpy(), X[:4])
    np.testing.assert_array_equal(yb.numpy(), y[:4])


def test_accepts_dataloader_keywords_and_int_like_batch_size():
    loader = TensorBatchLoader(_dataset(9), batch_size=np.int64(4), num_workers=0,
                               pin_memory=False, collate_fn=None)
    assert loader.batch_size == 4 and isinstance(loader.batch_size, int)
    assert [len(xb) for xb, _ in loader] == [4, 4, 1]
