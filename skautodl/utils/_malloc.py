"""glibc's allocator settings during training.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` so
that workers hand freed memory back to the system. Setting any such variable
also switches off glibc's dynamic mmap threshold: every allocation above
128 KiB (most activation and gradient tensors of a training step) is then
``mmap``-ed and unmapped again, and CPU training ran 1.5-2x slower in a Dask
worker than in a local process (measured in ``docs/benchmarks.md``, section
"Parallel trials"). :func:`training_allocator` lifts the mmap and trim
thresholds for the length of a trial and puts the environment's settings
back afterwards (then trims, as the nanny intended).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os

#: glibc's mallopt parameters
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's default mmap threshold (bytes)
DEFAULT_MMAP_THRESHOLD = 128 * 1024
#: the variables that switch glibc's dynamic mmap threshold off
PINNING_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                     "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
#: thresholds while a trial trains
TRAINING_MMAP_THRESHOLD = 64 * 2**20
TRAINING_TRIM_THRESHOLD = 256 * 2**20

_LIBC = []


def _libc():
    if not _LIBC:
        lib = None
        name = ctypes.util.find_library("c")
        if name and os.name == "posix":
            try:
                lib = ctypes.CDLL(name)
                lib.mallopt  # noqa: B018 - glibc only (not musl, not macOS)
                lib.malloc_trim  # noqa: B018
            except (OSError, AttributeError):
                lib = None
        _LIBC.append(lib)
    return _LIBC[0]


def _env_int(name, default):
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


@contextlib.contextmanager
def training_allocator(libc=None):
    """Let glibc keep training-sized blocks while the block runs, and hand
    the freed memory back to the system afterwards.

    Where the environment pins glibc's thresholds (see
    :data:`PINNING_VARIABLES`) they are lifted while the block runs. Either
    way the heap is trimmed (``malloc_trim``) when it ends: glibc keeps a
    trial's freed buffers in the heap (the large ones too, once its dynamic
    mmap threshold has risen), 150-250 MB of resident memory after a trial
    on 400,000 rows, which otherwise stays resident through the rest of
    the search. A no-op unless the C library is glibc.
    """
    libc = _libc() if libc is None else libc
    if libc is None:
        yield
        return
    pinned = any(v in os.environ for v in PINNING_VARIABLES)
    if pinned:
        libc.mallopt(M_MMAP_THRESHOLD, TRAINING_MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, TRAINING_TRIM_THRESHOLD)
    try:
        yield
    finally:
        if pinned:
            libc.mallopt(M_MMAP_THRESHOLD, _env_int("MALLOC_MMAP_THRESHOLD_",
                                                    DEFAULT_MMAP_THRESHOLD))
            trim = _env_int("MALLOC_TRIM_THRESHOLD_", None)
            if trim is not None:
                libc.mallopt(M_TRIM_THRESHOLD, trim)
        libc.malloc_trim(0)


def release_free_memory(libc=None):
    """Hand the heap's free memory back to the system (glibc's ``malloc_trim``).

    Returns True where it ran (glibc), False elsewhere.
    """
    libc = _libc() if libc is None else libc
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
