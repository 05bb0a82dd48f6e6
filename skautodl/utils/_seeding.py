"""Seeds and random states: one place for drawing, saving and scoping them.

* :func:`rng_state` / :func:`set_rng_state` turn a numpy ``RandomState``
  into JSON-friendly data and back (checkpoints, searcher states).
* :func:`torch_seeded` runs a block under a torch seed without touching
  the caller's global torch random state.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

#: held while a block trains under a torch seed: torch's random generator is
#: one per process, so two trainings in two threads would draw from it in
#: turns and neither would be reproducible; they take turns instead
_TRAINING_LOCK = threading.RLock()


def rng_state(rng):
    """JSON-friendly state of a ``numpy.random.RandomState``."""
    kind, keys, pos, has_gauss, cached = rng.get_state()
    return [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def set_rng_state(rng, state):
    """Restore a state made by :func:`rng_state` into ``rng``."""
    kind, keys, pos, has_gauss, cached = state
    rng.set_state((kind, np.asarray(keys, dtype=np.uint32), int(pos),
                   int(has_gauss), float(cached)))
    return rng


def draw_seed(rng):
    """One integer seed (a plain ``int``) drawn from ``rng``."""
    return int(rng.randint(2**31 - 1))


@contextlib.contextmanager
def torch_seeded(seed, device="cpu"):
    """Run the block with torch seeded by ``seed``; restore the RNG after.

    The global torch generator (and the CUDA generators when CUDA is in
    use) is saved before and put back after the block, so training a trial
    or refitting a model never changes the random numbers the user's own
    code draws next. Blocks in different threads of one process run one at
    a time (torch has one generator per process): two ``fit`` calls in two
    threads give the same models as the same fits one after the other.

    Parameters
    ----------
    seed : int
    device : str, default="cpu"
        The device the block trains on; for a CUDA device its generator is
        saved and restored too.
    """
    import torch

    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        devices = list(range(torch.cuda.device_count()))
    with _TRAINING_LOCK, torch.random.fork_rng(devices=devices):
        if devices:
            torch.manual_seed(int(seed))  # the CPU and every CUDA generator
        else:
            # the CPU generator only: seeding CUDA lazily would change the
            # user's CUDA random numbers once CUDA starts
            torch.random.default_generator.manual_seed(int(seed))
        yield
