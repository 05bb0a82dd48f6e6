"""Search state saved after every trial, and read back to resume.

The state lives in ``checkpoint_dir/search_state.json``: the finished
trials, the searcher's and the fidelity scheduler's states, the root random
state and the seeds of the splits and the searcher. Each save is atomic
(a temporary file, flushed and fsynced, renamed over the old one), so a
crash at any moment leaves either the previous or the new state, never a
mix. A fingerprint of the data and of the parameters that define the search
makes a resume on other data or settings fail with a clear error instead of
mixing results.
"""

from __future__ import annotations

import hashlib
import json
import os

from skautodl.exceptions import CheckpointError

CHECKPOINT_FILE = "search_state.json"
#: version of the saved state; 2: trials keep their device and origin, and
#: the Hyperband state lists its running brackets
CHECKPOINT_FORMAT = 2
#: keys every saved state has
STATE_KEYS = ("fingerprint", "results", "scheduler", "rng", "seeds")


class Checkpoint:
    """Search state in ``directory/search_state.json``, written atomically.

    Parameters
    ----------
    directory : str or path-like
    fingerprint : dict
        ``{"data": hash, "params": {name: hash}}`` of the search; a resume
        with a different fingerprint is refused.
    """

    def __init__(self, directory, fingerprint):
        self.directory = os.fspath(directory)
        self.fingerprint = fingerprint

    @property
    def path(self):
        return os.path.join(self.directory, CHECKPOINT_FILE)

    def load(self):
        """Return the saved state, None if there is none, or raise CheckpointError."""
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, encoding="utf-8") as fh:
                state = json.load(fh)
            if state.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"unknown format {state.get('format')!r} (this "
                                 f"version reads format {CHECKPOINT_FORMAT})")
            for key in STATE_KEYS:
                if key not in state:
                    raise ValueError(f"missing key {key!r}")
        except (ValueError, OSError, UnicodeDecodeError, AttributeError) as exc:
            raise CheckpointError(
                f"The checkpoint {self.path} is corrupted or truncated ({exc}). "
                "Nothing was resumed. Delete that file (or pass another "
                "checkpoint_dir) to start the search over."
            ) from None
        saved = state["fingerprint"]
        if saved.get("data") != self.fingerprint["data"]:
            raise CheckpointError(
                f"The checkpoint in {self.directory} belongs to a search on "
                "different data (X or y changed); refusing to mix results. Use "
                "another checkpoint_dir, or delete the old one to start over."
            )
        changed = sorted(
            k for k in set(saved["params"]) | set(self.fingerprint["params"])
            if saved["params"].get(k) != self.fingerprint["params"].get(k)
        )
        if changed:
            raise CheckpointError(
                f"The checkpoint in {self.directory} was made with different "
                f"parameters ({', '.join(changed)}); refusing to mix results. Use "
                "another checkpoint_dir, or delete the old one to start over."
            )
        return state

    def save(self, state):
        """Write ``state`` atomically (tmp file, fsync, rename, fsync the dir)."""
        os.makedirs(self.directory, exist_ok=True)
        state = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, **state}
        data = json.dumps(state, default=_json_default).encode("utf-8")
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        try:
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:  # pragma: no cover - platforms without directory fsync
            pass


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def fingerprint(X, y, params):
    """Hashes identifying a search: the data, and each search-defining parameter."""
    import joblib

    def h(obj):
        try:
            return joblib.hash(obj)
        except Exception:  # noqa: BLE001 - unpicklable: fall back to its repr
            return hashlib.sha1(repr(obj).encode()).hexdigest()

    return {"data": h((X, y)), "params": {k: h(v) for k, v in sorted(params.items())}}


def open_checkpoint(directory, X, y, params):
    """The checkpoint of a search and its saved state.

    Parameters
    ----------
    directory : str, path-like or None
        ``checkpoint_dir``; None means no checkpoint.
    X, y
        The validated data (fingerprinted).
    params : dict
        The parameters that define the search (fingerprinted one by one).

    Returns
    -------
    checkpoint, state : Checkpoint or None, dict or None
    """
    if directory is None:
        return None, None
    checkpoint = Checkpoint(directory, fingerprint(X, y, params))
    return checkpoint, checkpoint.load()
