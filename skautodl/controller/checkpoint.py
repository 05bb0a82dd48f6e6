"""Search state saved after every trial, and read back to resume.

The state lives in ``checkpoint_dir/search_state.json``: the finished
trials, the searcher's and the fidelity scheduler's states, the root random
state and the seeds of the splits and the searcher. Each save is atomic
(a temporary file with an unpredictable name, created exclusively and never
through a symbolic link, flushed and fsynced, renamed over the old one), so
a crash at any moment leaves either the previous or the new state, never a
mix. A fingerprint of the data and of the parameters that define the search
makes a resume on other data or settings fail with a clear error instead of
mixing results.

Opening a checkpoint (:func:`open_checkpoint`, :meth:`Checkpoint.acquire`)
creates the directory, takes an advisory lock on
``checkpoint_dir/search_state.lock`` (one search per directory; the lock
dies with its process) and writes and removes a probe file, so a directory
that is a file, not writable or on a full disk fails before the first
trial. A save that fails later (the disk filled up during the search) warns
with :class:`~skautodl.exceptions.CheckpointWarning`; the search goes on and
the last good checkpoint stays as it was. Every saved state is checked
against an explicit schema when it is read back: a malformed file raises
:class:`~skautodl.exceptions.CheckpointError` that says what is wrong, and
is left untouched.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import secrets
import socket
import stat
import types
import warnings
import weakref

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None

from skautodl.exceptions import CheckpointError, CheckpointWarning

logger = logging.getLogger("skautodl")

CHECKPOINT_FILE = "search_state.json"
#: the advisory lock held by the search writing the checkpoint
LOCK_FILE = "search_state.lock"
#: version of the saved state; 2: trials keep their device and origin, and
#: the Hyperband state lists its running brackets (a trial's training rows
#: and a segment's share of rows, data-size fidelity, are optional additions
#: that files without them still read as)
CHECKPOINT_FORMAT = 2
#: keys every saved state has
STATE_KEYS = ("fingerprint", "results", "scheduler", "rng", "seeds")
#: deepest nesting of lists and objects a saved state may have (a real one
#: has about 8 levels)
MAX_DEPTH = 32

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_HELD_LOCKS = set()  # descriptors of the lock files this process holds


def _forget_locks_in_child():
    # a forked child (a worker process) must not keep its parent's
    # checkpoint locked: close its copies, without unlocking the parent's
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


def _release_lock(fd, owner):
    if os.getpid() != owner:
        return  # a forked copy: the lock is its parent's
    _HELD_LOCKS.discard(fd)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


class Checkpoint:
    """Search state in ``directory/search_state.json``, written atomically.

    Parameters
    ----------
    directory : str or path-like
        The ``checkpoint_dir``; created by :meth:`acquire` if missing.
    fingerprint : dict
        ``{"data": hash, "params": {name: hash}}`` of the search; a resume
        with a different fingerprint is refused.

    Notes
    -----
    :meth:`acquire` (or ``with Checkpoint(...) as checkpoint:``) checks the
    directory and takes its lock; :meth:`close` releases it. :meth:`save`
    and :meth:`load` work without the lock too; the lock only keeps two
    searches from writing the same file.
    """

    def __init__(self, directory, fingerprint):
        self.directory = os.fspath(directory)
        self.fingerprint = fingerprint
        self._lock = None  # weakref.finalize that releases the lock
        self._failing = False  # the last save failed (warned once)

    @property
    def path(self):
        """The path of the state file, ``directory/search_state.json``."""
        return os.path.join(self.directory, CHECKPOINT_FILE)

    @property
    def lock_path(self):
        """The path of the lock file in ``directory``."""
        return os.path.join(self.directory, LOCK_FILE)

    @property
    def locked(self):
        """Whether this process holds the checkpoint's lock through this object."""
        return self._lock is not None and self._lock.alive

    # ------------------------------------------------------------ lock
    def acquire(self):
        """Make the directory usable for this search, before any trial runs.

        Creates the directory, takes the lock (one search per directory)
        and writes and removes a probe file.

        Returns
        -------
        Checkpoint
            The checkpoint itself.

        Raises
        ------
        CheckpointError
            The path is not a directory, is not writable, its device is
            full, or another search (another process, or another open
            checkpoint in this one) holds the lock.
        """
        if self.locked:
            return self
        self._make_directory()
        self._take_lock()
        try:
            self._probe()
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Release the lock (the saved state stays). Closing twice is harmless."""
        if self._lock is not None:
            self._lock()  # runs once
            self._lock = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.close()
        return False

    def _make_directory(self):
        try:
            os.makedirs(self.directory, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise CheckpointError(
                f"checkpoint_dir={self.directory!r} is not a directory "
                f"({_why(exc)}); pass the path of a directory (it is created "
                "when missing). No trial was run."
            ) from None
        except OSError as exc:
            raise self._unusable(exc) from None

    def _take_lock(self):
        if fcntl is None:  # pragma: no cover - no advisory locks here
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC,
                         0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CheckpointError(
                    f"The lock file {self.lock_path} is a symbolic link; refusing "
                    "to follow it. Remove that link, or pass another "
                    "checkpoint_dir. No trial was run."
                ) from None
            raise self._unusable(exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise CheckpointError(
                    f"checkpoint_dir={self.directory!r} is in use by another "
                    f"search ({holder}); two searches must not write the same "
                    "checkpoint. Wait until it ends, or pass another "
                    "checkpoint_dir."
                ) from None
            warnings.warn(
                f"Could not lock checkpoint_dir={self.directory!r} "
                f"({_why(exc)}; its file system may not support locks): make "
                "sure no other search uses it at the same time.",
                CheckpointWarning, stacklevel=4,
            )
            return
        with contextlib.suppress(OSError):  # who holds it, for the message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        _HELD_LOCKS.add(fd)
        self._lock = weakref.finalize(self, _release_lock, fd, os.getpid())

    def _probe(self):
        try:
            fd, tmp = _create_temp(self.directory)
        except OSError as exc:
            raise self._unusable(exc) from None
        try:
            try:
                _write_all(fd, b"skautodl checkpoint probe\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._unusable(exc) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _unusable(self, exc):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            problem, fix = "has no space left", "free some space"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            problem, fix = "is not writable", "fix its permissions"
        else:
            problem, fix = "cannot be written to", "check it"
        return CheckpointError(
            f"checkpoint_dir={self.directory!r} {problem} ({_why(exc)}); the "
            f"search state could not be saved there. No trial was run: {fix}, "
            "or pass another checkpoint_dir (or None)."
        )

    # ------------------------------------------------------------ load
    def load(self):
        """Read the saved state back.

        Returns
        -------
        dict or None
            The state; None when nothing was saved yet.

        Raises
        ------
        skautodl.exceptions.CheckpointError
            If the file is unreadable, corrupted, malformed (see
            :func:`check_state`), or made by another search (data or
            search-defining parameters differ from the fingerprint).
        """
        try:
            info = os.stat(self.path)
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(
                f"checkpoint_dir={self.directory!r}: cannot read the checkpoint "
                f"{self.path} ({_why(exc)}). Nothing was resumed and the file "
                "was left as it is; make it a readable file (check its "
                "permissions), or pass another checkpoint_dir."
            ) from None
        try:
            state = json.loads(raw.decode("utf-8"))
            check_state(state)
        except RecursionError:
            raise self._corrupted("nested too deeply") from None
        except ValueError as exc:  # JSON, UTF-8 or schema
            raise self._corrupted(str(exc)) from None
        self._check_fingerprint(state["fingerprint"])
        return state

    def _corrupted(self, detail):
        return CheckpointError(
            f"The checkpoint {self.path} is corrupted or truncated ({detail}). "
            "Nothing was resumed. Delete that file (or pass another "
            "checkpoint_dir) to start the search over."
        )

    def _check_fingerprint(self, saved):
        if saved["data"] != self.fingerprint["data"]:
            raise CheckpointError(
                f"The checkpoint in {self.directory} belongs to a search on "
                "different data (X or y changed); refusing to mix results. Use "
                "another checkpoint_dir, or delete the old one to start over."
            )
        # a parameter that the saved fingerprint lacks (a release that did not
        # fingerprint it) counts as None, its default
        none = _hash(None)
        old, new = saved["params"], self.fingerprint["params"]
        changed = sorted(k for k in set(old) | set(new)
                         if old.get(k, none) != new.get(k, none))
        if changed:
            raise CheckpointError(
                f"The checkpoint in {self.directory} was made with different "
                f"parameters ({', '.join(changed)}); refusing to mix results. Use "
                "another checkpoint_dir, or delete the old one to start over."
            )

    def check_families(self, state, families):
        """Raise CheckpointError if a restored config's family is not searched.

        Parameters
        ----------
        state : dict
            The saved state (:meth:`load`).
        families : list of str
            The search space's families. The configs checked are the
            finished trials' and the promotions the fidelity scheduler has
            yet to run (:func:`restored_configs`).

        Raises
        ------
        skautodl.exceptions.CheckpointError
            Naming the config and its family.
        """
        families = list(families)
        for where, trial_id, config in restored_configs(state):
            family = config.get("family")
            if family not in families:
                raise CheckpointError(
                    f"The checkpoint {self.path} does not fit this search: "
                    f"{where} (trial_id {trial_id}) has family {family!r}, which "
                    f"is not one of this search's families "
                    f"({', '.join(map(str, families))}). Nothing was resumed. "
                    "Delete that file (or pass another checkpoint_dir) to start "
                    "the search over."
                )

    # ------------------------------------------------------------ save
    def save(self, state):
        """Write ``state`` atomically.

        A temporary file with an unpredictable name is created exclusively
        (never through a symbolic link) in the directory, written, fsynced
        and renamed over the old file; the directory is fsynced. When any
        step fails (a full disk, a file system gone read-only), the
        temporary file is removed, the previous checkpoint stays as it was,
        and a :class:`~skautodl.exceptions.CheckpointWarning` says so (once
        until a save succeeds again).

        Parameters
        ----------
        state : dict
            The search state (JSON-ready); the format and the fingerprint
            are added.

        Returns
        -------
        bool
            Whether the state was written.
        """
        state = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, **state}
        data = json.dumps(state, default=_json_default).encode("utf-8")
        try:
            os.makedirs(self.directory, exist_ok=True)
            _write_atomic(self.directory, self.path, data)
        except OSError as exc:
            if not self._failing:
                warnings.warn(
                    f"Could not save the checkpoint in {self.directory} "
                    f"({_why(exc)}); the search goes on in memory and "
                    f"{self.path} keeps the last state saved. Saving is retried "
                    "after every trial.",
                    CheckpointWarning, stacklevel=2,
                )
            else:
                logger.debug("checkpoint save failed again: %s", _why(exc))
            self._failing = True
            return False
        if self._failing:
            logger.warning("The checkpoint in %s is saved again.", self.directory)
            self._failing = False
        return True


def read_results(directory):
    """Read the finished trials' records saved in ``directory``'s checkpoint.

    For a warm start (``warm_start=<checkpoint_dir>``): the state is read and
    checked against the schema, without a lock and whatever data or settings
    it was made with.

    Parameters
    ----------
    directory : str or path-like
        A ``checkpoint_dir``.

    Returns
    -------
    list of dict
        :meth:`TrialResult.to_record` dicts (``config``, ``score``, ...).

    Raises
    ------
    FileNotFoundError
        If the directory holds no checkpoint.
    skautodl.exceptions.CheckpointError
        If the checkpoint is corrupted, truncated or malformed.
    """
    path = os.path.join(os.fspath(directory), CHECKPOINT_FILE)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No checkpoint in {os.fspath(directory)!r} (no {CHECKPOINT_FILE})."
        ) from None
    try:
        state = json.loads(raw.decode("utf-8"))
        check_state(state)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"The checkpoint {path} is corrupted or truncated "
                              f"({exc}).") from None
    return state["results"]


def _why(exc):
    """``"PermissionError: Permission denied"`` for an OSError."""
    return f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


def _read_holder(fd):
    try:
        pid, host = os.pread(fd, 200, 0).decode("utf-8", "replace").split()[:2]
    except (OSError, ValueError):
        return "another process"
    if host == socket.gethostname():
        if pid == str(os.getpid()):
            return (f"this process {pid}: another fit, or a checkpoint opened and "
                    "not closed")
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return (f"last taken by process {pid} on {host}, which no longer runs; "
                    "a process it started may still hold the lock")
        except (ValueError, OSError):  # not ours to signal: it runs
            pass
    return f"process {pid} on {host}"


def _create_temp(directory):
    """A new file ``directory/.search_state.json.<random>.tmp``: (fd, path).

    Created with ``O_CREAT | O_EXCL | O_NOFOLLOW``: never an existing file,
    never through a symbolic link planted at its name.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    for _ in range(100):
        path = os.path.join(directory, f".{CHECKPOINT_FILE}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_atomic(directory, path, data):
    fd, tmp = _create_temp(directory)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
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


# ---------------------------------------------------------------------- schema
class _Invalid(ValueError):
    """What is wrong with a saved state, and where."""


def _show(value):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):  # pragma: no cover
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(path, expected, value):
    raise _Invalid(f"{path}: expected {expected}, got {_show(value)}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, int | float) and not isinstance(v, bool)


def _int(low=None, high=None):
    def check(v, path):
        if not _is_int(v) or (low is not None and v < low) or (
                high is not None and v > high):
            bounds = (f" >= {low}" if high is None else f" in [{low}, {high}]") \
                if low is not None else ""
            _fail(path, f"an integer{bounds}", v)
    return check


def _number(v, path):
    if not _is_number(v):
        _fail(path, "a number", v)


def _boolean(v, path):
    if not isinstance(v, bool):
        _fail(path, "true or false", v)


def _string(*choices):
    def check(v, path):
        if not isinstance(v, str) or (choices and v not in choices):
            _fail(path, " or ".join(map(repr, choices)) if choices else "a string", v)
    return check


def _nullable(check):
    def nullable(v, path):
        if v is not None:
            check(v, path)
    return nullable


def _list(item=None, length=None, name="a list"):
    def check(v, path):
        if not isinstance(v, list) or (length is not None and len(v) != length):
            _fail(path, name if length is None else f"a list of {length} items", v)
        if item is not None:
            for i, x in enumerate(v):
                item(x, f"{path}[{i}]")
    return check


def _tuple(*items):
    def check(v, path):
        if not isinstance(v, list) or len(v) != len(items):
            _fail(path, f"a list of {len(items)} items", v)
        for i, (x, item) in enumerate(zip(v, items, strict=True)):
            item(x, f"{path}[{i}]")
    return check


def _object(fields=None, required=(), extra=True, values=None, nullable=False):
    """A JSON object (or null when ``nullable``).

    ``fields``: name -> check; ``required``: names it must have; unknown
    names are refused unless ``extra``, and checked with ``values`` if given.
    """
    fields = fields or {}

    def check(v, path):
        if v is None and nullable:
            return
        if not isinstance(v, dict):
            _fail(path, "an object or null" if nullable else "an object", v)
        for name in required:
            if name not in v:
                raise _Invalid(f"{path}: missing key {name!r}")
        for name, x in v.items():
            if name in fields:
                fields[name](x, f"{path}.{name}")
            elif not extra:
                raise _Invalid(f"{path}: unexpected key {name!r}")
            elif values is not None:
                values(x, f"{path}.{name}")
    return check


_config = _object({"family": _string()}, required=("family",))
def _segment(v, path):
    """``[kept, length]``, or ``[kept, length, share of rows]`` (data-size
    fidelity; a share in (0, 1])."""
    if isinstance(v, list) and len(v) == 3:
        _tuple(_int(0), _int(0), _number)(v, path)
        if not 0 < v[2] <= 1:
            _fail(f"{path}[2]", "a share of rows in (0, 1]", v[2])
    else:
        _tuple(_int(0), _int(0))(v, path)


_segments = _list(_segment)
_numbers = _list(_number)
_rng = _tuple(_string("MT19937"), _list(_int(0, 2**32 - 1), length=624),
              _int(0, 624), _int(0, 1), _number)

#: what :meth:`TrialResult.to_record` writes, field by field
RECORD_SCHEMA = {
    "config": _config, "status": _string("ok", "failed"),
    "score": _nullable(_number), "split_scores": _numbers,
    "epochs": _int(0), "epochs_run": _int(0),
    "fit_time": _number, "score_time": _number,
    "error": _nullable(_string()), "stopped_by_budget": _boolean,
    "pruned": _boolean, "peak_memory_mb": _number, "seed": _int(),
    "segments": _segments, "curve": _numbers, "trial_id": _int(0),
    "rung": _int(0), "parent_id": _nullable(_int(0)), "worker": _string(),
    "device": _string(), "origin": _string(), "rows": _int(0),
    "valid_seconds": _number,
}
#: record keys :meth:`TrialResult.from_record` cannot do without
RECORD_REQUIRED = ("config", "status", "score", "segments", "trial_id")
_record = _object(RECORD_SCHEMA, required=RECORD_REQUIRED, extra=False)

# the Hyperband state (skautodl.search.fidelity); FullFidelity saves {}
_bracket = _object({
    "index": _int(0), "plan": _list(_tuple(_int(0), _int(0))), "rung": _int(0),
    "to_ask": _int(0),
    # [trial_id, base config, epochs before, segments]
    "todo": _list(_tuple(_int(0), _config, _int(0), _segments)),
    # [trial_id, score or null, base config, pruned, segments]
    "results": _list(_tuple(_int(0), _nullable(_number), _config, _boolean,
                            _segments)),
    "dispatched": _int(0), "curves": _list(_numbers),
}, required=("index", "plan", "rung", "to_ask", "todo", "results", "dispatched",
             "curves"))
_scheduler = _object({"started": _int(0), "brackets": _list(_bracket)})



def _event(v, path):
    # the Bayesian searcher's ask/tell sequence: ["ask", family(, n)], ["tell", n]
    if isinstance(v, list) and v[:1] == ["tell"]:
        _tuple(_string(), _int(0))(v, path)
    elif isinstance(v, list) and v[:1] == ["ask"] and len(v) in (2, 3):
        _tuple(_string(), _string(), _int(0))(v + [1] if len(v) == 2 else v, path)
    else:
        _fail(path, '["ask", family, n] or ["tell", n]', v)


# the built-in searchers' states (skautodl.search.searchers); other keys are
# theirs to check
_searcher = _object({
    "history": _list(_tuple(_config, _nullable(_number))),
    "rng": _rng, "n_asked": _int(0),
    "events": _list(_event), "position": _int(0),
    "pending": _list(_int(0)),
}, nullable=True)

_STATE = _object({
    "fingerprint": _object({"data": _string(), "params": _object(values=_string())},
                           required=("data", "params")),
    "results": _list(_record),
    "scheduler": _scheduler,
    "rng": _rng,
    "seeds": _tuple(_int(0, 2**32 - 1), _int(0, 2**32 - 1)),
    "portfolio_done": _list(_int(0)),
    "next_trial_id": _int(0),
    "searcher": _searcher,
    # out-of-sample predictions of the best trials: {trial_id: [score, dtype,
    # shape, base64 of the values]}
    "predictions": _nullable(_object(values=_tuple(
        _number, _string("float32"), _list(_int(0)), _string()))),
}, required=STATE_KEYS)


def _depth(obj):
    """Nesting depth of lists and objects (iterative: no recursion limit)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            stack.extend((x, depth + 1) for x in node)
    return deepest


def check_state(state):
    """Raise ValueError saying what is wrong if ``state`` is not a saved search state.

    Checks, in this order: a JSON object, nested at most :data:`MAX_DEPTH`
    levels, of format :data:`CHECKPOINT_FORMAT`, with every key of
    :data:`STATE_KEYS` and the types and values the search reads back
    (trial records as :data:`RECORD_SCHEMA`; the random states as
    ``rng_state`` makes them; unique trial ids below ``next_trial_id``).

    Parameters
    ----------
    state : object
        The decoded JSON of a checkpoint file.

    Raises
    ------
    ValueError
        Naming the first thing that is wrong, by its path in the state.
    """
    if not isinstance(state, dict):
        _fail("the file", "a JSON object", state)
    if _depth(state) > MAX_DEPTH:
        raise _Invalid(f"nested too deeply (more than {MAX_DEPTH} levels)")
    fmt = state.get("format")
    if not _is_int(fmt) or fmt != CHECKPOINT_FORMAT:
        raise _Invalid(f"unknown format {_show(fmt)} (this version reads format "
                       f"{CHECKPOINT_FORMAT})")
    for key in STATE_KEYS:
        if key not in state:
            raise _Invalid(f"missing key {key!r}")
    _STATE(state, "state")
    for b, bracket in enumerate(state["scheduler"].get("brackets", [])):
        if not bracket["rung"] < len(bracket["plan"]):
            raise _Invalid(f"state.scheduler.brackets[{b}].rung: expected less than "
                           f"the {len(bracket['plan'])} rungs of its plan, got "
                           f"{bracket['rung']}")
    seen = set()
    for i, record in enumerate(state["results"]):
        if record["trial_id"] in seen:
            raise _Invalid(f"state.results[{i}]: duplicate trial_id "
                           f"{record['trial_id']}")
        seen.add(record["trial_id"])
    next_id = state.get("next_trial_id")
    if next_id is not None and seen and next_id <= max(seen):
        raise _Invalid(f"state.next_trial_id: expected more than the largest "
                       f"trial_id {max(seen)}, got {next_id}")


def restored_configs(state):
    """List every config a resume would use.

    The finished trials' configs and those of the promotions the fidelity
    scheduler has yet to run.

    Parameters
    ----------
    state : dict
        A checked saved state (:func:`check_state`).

    Yields
    ------
    where : str
        The config's place in the state (``"results[3]"``...).
    trial_id : int
        Its trial.
    config : dict
        The config.
    """
    for i, record in enumerate(state["results"]):
        yield f"results[{i}]", record["trial_id"], record["config"]
    for b, bracket in enumerate(state["scheduler"].get("brackets", [])):
        for j, (trial_id, config, *_rest) in enumerate(bracket["todo"]):
            yield f"scheduler.brackets[{b}].todo[{j}]", trial_id, config


# ---------------------------------------------------------------------- fingerprint
def _hash(obj):
    import joblib

    try:
        return joblib.hash(obj)
    except Exception:  # noqa: BLE001 - unpicklable: fall back to its repr
        return hashlib.sha1(repr(obj).encode()).hexdigest()


def _qualname(obj):
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) \
        or type(obj).__qualname__
    return f"{getattr(obj, '__module__', None) or ''}.{name}"


def _callable_token(value):
    """A process-independent description of a function or scorer, else None.

    A function, method or builtin: its ``module.qualname``. A scikit-learn
    scorer (``make_scorer``): its class, its score function's qualified name,
    its keyword arguments, its sign and its response method. A
    ``functools.partial``: its function, arguments and keywords. Lambdas
    and closures have ambiguous qualified names (``<lambda>``,
    ``f.<locals>.g``): two of them defined at the same place are not told
    apart.
    """
    if hasattr(value, "_score_func") and hasattr(value, "_sign"):
        kwargs = getattr(value, "_kwargs", None) or {}
        return ("scorer", _qualname(type(value)), _token_or_value(value._score_func),
                sorted((str(k), _token_or_value(v)) for k, v in kwargs.items()),
                value._sign, getattr(value, "_response_method", None))
    if isinstance(value, functools.partial):
        return ("partial", _token_or_value(value.func),
                [_token_or_value(a) for a in value.args],
                sorted((k, _token_or_value(v)) for k, v in value.keywords.items()))
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType
                  | types.MethodType):
        return ("callable", _qualname(value))
    return None


def _token_or_value(value):
    token = _callable_token(value)
    return value if token is None else token


def _param_hash(value):
    token = _callable_token(value)
    if token is not None:
        return _hash(token)
    import joblib

    try:
        return joblib.hash(value)
    except Exception:  # noqa: BLE001 - unpicklable
        if callable(value):  # its repr may hold a memory address
            return _hash(("callable", _qualname(type(value))))
        return hashlib.sha1(repr(value).encode()).hexdigest()


def fingerprint(X, y, params):
    """Hash what identifies a search: the data, and each search-defining parameter.

    Functions and scorers (``scoring``) are hashed by their qualified names
    (see :func:`_callable_token`), so a checkpoint made with a lambda or a
    closure resumes in a new process; everything else by ``joblib.hash``.

    Parameters
    ----------
    X : pandas.DataFrame or ndarray
        The validated data.
    y : ndarray
        The validated targets.
    params : dict
        The parameters that define the search.

    Returns
    -------
    dict
        ``{"data": hash, "params": {name: hash}}``.
    """
    return {"data": _hash((X, y)),
            "params": {k: _param_hash(v) for k, v in sorted(params.items())}}


def open_checkpoint(directory, X, y, params):
    """Open the checkpoint of a search, locked for it, and read its saved state.

    Parameters
    ----------
    directory : str, path-like or None
        ``checkpoint_dir``; None means no checkpoint.
    X : pandas.DataFrame or ndarray
        The validated data (fingerprinted).
    y : ndarray
        The validated targets (fingerprinted).
    params : dict
        The parameters that define the search (fingerprinted one by one).

    Returns
    -------
    checkpoint : Checkpoint or None
        The locked checkpoint (None without ``directory``); close it
        (:meth:`Checkpoint.close`) when the search ends.
    state : dict or None
        The saved state to resume from; None for a new search.

    Raises
    ------
    CheckpointError
        The directory is unusable or in use by another search, or the saved
        state is unreadable, malformed or from another search (the lock is
        released then).
    """
    if directory is None:
        return None, None
    checkpoint = Checkpoint(directory, None).acquire()
    try:
        checkpoint.fingerprint = fingerprint(X, y, params)
        return checkpoint, checkpoint.load()
    except BaseException:
        checkpoint.close()
        raise
