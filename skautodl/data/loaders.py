"""Mini-batches sliced from whole tensors, for skorch's iterator slots.

Part of the data layer: training (``skautodl.training.net``) and the batch
augmentations (``skautodl.data.augment``) both build on it.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


class TensorBatchLoader:
    """Mini-batches sliced straight out of whole tensors.

    A drop-in for ``torch.utils.data.DataLoader`` in skorch's
    ``iterator_train`` / ``iterator_valid`` slots: instead of collating one
    row at a time it indexes the full tensors once per batch, which removes
    most of the per-batch overhead on small tabular data. Shuffling draws
    from torch's global generator, which each trial seeds.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` (and ``y``, or None): arrays or tensors of whole data.
    batch_size : int, default=128
        Rows per batch (the last one may be smaller).
    shuffle : bool, default=False
        Draw the rows in a random order each epoch.
    drop_last : bool, default=False
        Drop the last, incomplete batch.
    **kwargs
        Accepted and ignored (``DataLoader`` arguments skorch may pass,
        such as ``num_workers``).

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from skautodl.data.loaders import TensorBatchLoader
    >>> data = Dataset(np.zeros((10, 3), dtype=np.float32), np.arange(10))
    >>> [tuple(X.shape) for X, y in TensorBatchLoader(data, batch_size=4)]
    [(4, 3), (4, 3), (2, 3)]
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False,
                 **kwargs):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last

    @staticmethod
    def _as_tensor(a):
        if a is None or isinstance(a, torch.Tensor):
            return a
        with warnings.catch_warnings():
            # a worker's memory-mapped (read-only) training arrays: batches
            # are indexed copies, nothing writes to the shared buffer
            warnings.filterwarnings("ignore", message=".*not writable.*")
            return torch.as_tensor(np.asarray(a))

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        ds = self.dataset
        X = self._as_tensor(ds.X)
        y = None if getattr(ds, "y", None) is None else self._as_tensor(ds.y)
        n = X.shape[0]
        bs = self.batch_size
        if self.shuffle:
            order = torch.randperm(n)
            stop = n - n % bs if self.drop_last else n
            for start in range(0, stop, bs):
                idx = order[start:start + bs]
                yield X[idx], (None if y is None else y[idx])
        else:
            stop = n - n % bs if self.drop_last else n
            for start in range(0, stop, bs):
                yield (X[start:start + bs],
                       None if y is None else y[start:start + bs])
