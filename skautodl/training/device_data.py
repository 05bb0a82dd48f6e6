"""Keep a search's cached splits on the GPU, and release GPU memory between trials.

A search trains many nets on the same featurized splits. When they fit in
GPU memory, :class:`DeviceSplitCache` copies them to the device once per
worker process and every trial then slices its batches straight out of
device tensors (:class:`~skautodl.data.loaders.TensorBatchLoader` leaves
tensors as they are, and skorch's ``to_device`` is a no-op for a tensor
already on the net's device), instead of copying each batch from host
memory. When they do not fit, or the device is the CPU, the splits are used
as they are.

:func:`release_cuda_memory` hands the CUDA caching allocator's free blocks
back between trials, so one trial's activations do not crowd out the next
one (or another worker on the same GPU).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gc
import logging
import threading
import uuid
from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "DeviceSplitCache",
    "MemoryRelease",
    "fits_on_device",
    "release_cuda_memory",
    "split_nbytes",
]

logger = logging.getLogger("skautodl")

#: the array fields of a split that are moved; targets only with ``targets=True``
FEATURE_FIELDS = ("X_train", "X_valid")
TARGET_FIELDS = ("y_train", "y_valid_fit")


def fits_on_device(nbytes, device, fraction=0.5):
    """Tell whether ``nbytes`` fit in ``fraction`` of the device's free memory.

    Parameters
    ----------
    nbytes : int
        Bytes to place.
    device : str or torch.device
        The device (``"cuda"``, ``"cuda:N"``; anything else is not a GPU).
    fraction : float, default=0.5
        Share of the currently free memory the data may take; the rest is
        left for activations, weights and optimizer state of the trials.

    Returns
    -------
    bool
        Always False off CUDA (there is nothing to gain on the CPU) and when
        the free memory cannot be read.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    dev = torch.device(device)
    if dev.type != "cuda":
        return False
    try:
        free, _total = torch.cuda.mem_get_info(dev)
    except (RuntimeError, AssertionError) as exc:  # no CUDA build, no driver
        logger.debug("cannot read free memory of %s: %s", dev, exc)
        return False
    return int(nbytes) <= free * fraction


def _feature_dtype(a):
    """float32 for floating features (what the nets consume), else as is."""
    dtype = np.asarray(a[:0]).dtype if not isinstance(a, torch.Tensor) else None
    if dtype is not None and np.issubdtype(dtype, np.floating):
        return np.float32
    return dtype


def _nbytes(a, feature):
    if a is None:
        return 0
    if isinstance(a, torch.Tensor):
        itemsize = 4 if feature and a.is_floating_point() else a.element_size()
        return a.numel() * itemsize
    a = np.asarray(a)
    dtype = _feature_dtype(a) if feature else a.dtype
    return a.size * np.dtype(dtype).itemsize


def _fields(targets):
    return FEATURE_FIELDS + (TARGET_FIELDS if targets else ())


def split_nbytes(splits, targets=False):
    """Count the bytes the splits take once on a device (features as float32).

    Parameters
    ----------
    splits : list
        Split objects (``X_train``, ``y_train``, ``X_valid``,
        ``y_valid_fit``).
    targets : bool, default=False
        Count the targets too (they are placed only when asked).

    Returns
    -------
    int
        The bytes.
    """
    return sum(
        _nbytes(getattr(s, name, None), name in FEATURE_FIELDS)
        for s in splits for name in _fields(targets)
    )


def _to_device(a, device, feature):
    if a is None:
        return None
    if isinstance(a, torch.Tensor):
        t = a
    else:
        a = np.asarray(a)
        dtype = _feature_dtype(a) if feature else a.dtype
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))
    if feature and t.is_floating_point():
        t = t.float()
    return t.to(device)


def _replace(split, values):
    if dataclasses.is_dataclass(split) and not isinstance(split, type):
        return dataclasses.replace(split, **values)
    out = copy.copy(split)
    for name, value in values.items():
        setattr(out, name, value)
    return out


def _device_key(device):
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None and torch.cuda.is_available():
        dev = torch.device("cuda", torch.cuda.current_device())
    return str(dev)


@dataclasses.dataclass
class _Entry:
    on_device: bool
    splits: list
    # id(device tensor) -> (device tensor, host array it was copied from)
    host_of: dict = dataclasses.field(default_factory=dict)


# token -> {(device key, feature-set key) -> _Entry}; one search's data per
# process
_RESIDENT: dict[str, dict[tuple, _Entry]] = {}
_LOCK = threading.Lock()


class DeviceSplitCache:
    """Per-process, per-device copies of a search's splits.

    The cache itself holds no data: it is a token, small to pickle, that
    names a process-wide registry entry. Each worker process (and the main
    process) fills its own entry on first use and keeps it for the whole
    search, whatever copy of the cache object (re-pickled with every job by
    joblib) asks for it; one copy per device (and per featurization, see
    ``key``) in each process. A process keeps the data of one cache at a
    time: asking with another cache's token frees the previous one's
    tensors.

    Parameters
    ----------
    fraction : float, default=0.5
        Share of the device's free memory the splits may take
        (:func:`fits_on_device`). All splits go on the device or none does.
    force : bool, default=False
        Place the splits on any device, the CPU included, without the memory
        check (for tests, and to override the heuristic).
    targets : bool, default=False
        Also move ``y_train`` and ``y_valid_fit``. Off by default: the nets'
        ``partial_fit`` in :mod:`skautodl.training.net` converts targets with
        numpy, which a CUDA tensor does not allow; a batch of targets is a
        few hundred bytes.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> split = SimpleNamespace(X_train=np.zeros((4, 2)), y_train=np.zeros(4),
    ...                         X_valid=np.zeros((2, 2)), y_valid_fit=np.zeros(2))
    >>> cache = DeviceSplitCache(force=True)
    >>> placed = cache.get([split], "cpu")
    >>> placed[0].X_train.dtype, cache.on_device("cpu")
    (torch.float32, True)
    >>> cache.clear()
    """

    def __init__(self, fraction=0.5, force=False, targets=False):
        self.fraction = fraction
        self.force = force
        self.targets = targets
        self.token = uuid.uuid4().hex

    def get(self, splits, device, key=None):
        """The splits to train on with ``device``.

        Parameters
        ----------
        splits : list
            Split objects with numpy ``X_train``, ``y_train``, ``X_valid``
            and ``y_valid_fit`` (a field that is None stays None).
        device : str or torch.device
            Where the trial trains.
        key : hashable, optional
            Which list of splits this is, when a search has several (one per
            featurization: pass the trial's ``feature_key``). Lists are told
            apart by this key only, never by identity (every job a worker
            receives holds new copies of them).

        Returns
        -------
        list
            Copies of the splits (same type; other fields shared) whose
            arrays are tensors on ``device`` (features float32), or
            ``splits`` itself when they do not fit or the device is the CPU.
            The decision is taken once per process, device and ``key``, then
            reused; each list goes to the device whole or not at all.
        """
        dev = _device_key(device)
        slot = (dev, key)
        with _LOCK:
            entry = _RESIDENT.get(self.token, {}).get(slot)
            if entry is not None:
                return entry.splits
            for token in [t for t in _RESIDENT if t != self.token]:
                del _RESIDENT[token]  # one search's data per process
            nbytes = split_nbytes(splits, self.targets)
            place = self.force or fits_on_device(nbytes, dev, self.fraction)
            entry = _Entry(place, list(splits))
            if place:
                try:
                    entry.splits = [self._place(s, dev, entry.host_of)
                                    for s in splits]
                except torch.cuda.OutOfMemoryError:
                    logger.debug("splits did not fit on %s after all", dev)
                    entry = _Entry(False, list(splits))
            logger.debug("splits %r (%.1f MiB) %s %s", key, nbytes / 2**20,
                         "placed on" if entry.on_device else "kept on the host for",
                         dev)
            _RESIDENT.setdefault(self.token, {})[slot] = entry
            return entry.splits

    def _place(self, split, device, host_of):
        values = {}
        for name in _fields(self.targets):
            host = getattr(split, name, None)
            values[name] = t = _to_device(host, device, name in FEATURE_FIELDS)
            if isinstance(t, torch.Tensor) and t is not host:
                host_of[id(t)] = (t, host)
        return _replace(split, values)

    def _host_array(self, tensor):
        for entry in _RESIDENT.get(self.token, {}).values():
            pair = entry.host_of.get(id(tensor))
            if pair is not None and pair[0] is tensor:
                host = pair[1]
                if isinstance(host, torch.Tensor):
                    return host.cpu()
                dtype = torch.empty(0, dtype=tensor.dtype).numpy().dtype
                return np.asarray(host, dtype=dtype)
        return tensor.cpu()

    def to_host(self, net):
        """Point ``net``'s predefined validation data back at host memory.

        A net trained on placed splits keeps its validation ``Dataset``
        (skorch's ``predefined_split``, in ``train_split``), whose tensors then
        live on the GPU: pickling the net would embed them (it would not
        unpickle without CUDA) and a net returned from a worker process
        would carry them along. Call this on every net a trial keeps: device
        tensors this cache placed are swapped for the host arrays they came
        from (no copy), other device tensors are copied to the CPU. A
        continued training (``partial_fit``) of the net still works; its
        validation batches are then copied from the host.

        Parameters
        ----------
        net : skorch.NeuralNet
            A net a trial keeps.

        Returns
        -------
        skorch.NeuralNet
            ``net`` itself.
        """
        split = getattr(net, "train_split", None)
        if not isinstance(split, functools.partial):
            return net
        ds = split.keywords.get("valid_ds")
        fields = {name: getattr(ds, name, None) for name in ("X", "y")}
        if not any(isinstance(a, torch.Tensor) and a.device.type != "cpu"
                   for a in fields.values()):
            return net
        host = {name: self._host_array(a) if isinstance(a, torch.Tensor)
                and a.device.type != "cpu" else a for name, a in fields.items()}
        new_ds = type(ds)(host["X"], host["y"])
        net.train_split = functools.partial(
            split.func, *split.args, **{**split.keywords, "valid_ds": new_ds})
        return net

    def on_device(self, device, key=None):
        """Tell what :meth:`get` decided for ``device`` and ``key``.

        Parameters
        ----------
        device : str or torch.device
            The device.
        key : hashable, optional
            The list of splits (see :meth:`get`).

        Returns
        -------
        bool or None
            Whether the splits went to the device; None before :meth:`get`
            decided.
        """
        entry = _RESIDENT.get(self.token, {}).get((_device_key(device), key))
        return None if entry is None else entry.on_device

    def clear(self, device=None):
        """Drop this cache's tensors in this process (one device, or all).

        Parameters
        ----------
        device : str, torch.device or None, default=None
            The device whose tensors go; None: every device.
        """
        with _LOCK:
            if device is None:
                _RESIDENT.pop(self.token, None)
                return
            dev = _device_key(device)
            entries = _RESIDENT.get(self.token, {})
            for slot in [s for s in entries if s[0] == dev]:
                del entries[slot]

    def __repr__(self):
        return (f"{type(self).__name__}(fraction={self.fraction!r}, "
                f"force={self.force!r}, targets={self.targets!r})")


class MemoryRelease(NamedTuple):
    """Bytes reserved by the CUDA caching allocator (all devices).

    Parameters
    ----------
    reserved_before : int
        Before the release.
    reserved_after : int
        After it.
    """

    reserved_before: int
    reserved_after: int


def _reserved():
    return sum(torch.cuda.memory_reserved(i)
               for i in range(torch.cuda.device_count()))


def release_cuda_memory():
    """Collect garbage and empty the CUDA cache, if CUDA is in use.

    A no-op (no ``gc.collect`` either) when this process never initialized
    CUDA, so CPU-only searches pay nothing.

    Returns
    -------
    MemoryRelease
        Bytes reserved before and after (``(0, 0)`` without CUDA).
    """
    if not torch.cuda.is_initialized():
        return MemoryRelease(0, 0)
    before = _reserved()
    gc.collect()
    torch.cuda.empty_cache()
    return MemoryRelease(before, _reserved())
