"""
=====================================
Checkpoints: stop a search, resume it
=====================================

With ``checkpoint_dir`` set, the search state is saved atomically after
every finished trial. A later ``fit`` with the same directory, the same data
and the same search-defining parameters resumes the search: the finished
trials come back as they were, none is repeated, and the search goes on
proposing what an uninterrupted search would have. That holds whether the
first ``fit`` ran out of time, was interrupted with Ctrl-C, or was killed
outright (even with ``SIGKILL``: only the trials running at that moment are
lost).

Here a first ``fit`` is stopped after a few trials by ``n_trials``, and a
second one, allowed more trials, continues it.

Run it with ``python examples/search/checkpoint_resume.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps each time budget (default 30 seconds per
fit). The checkpoint goes to a temporary directory, removed at the end.
"""

# %%
# A first search, stopped early
# -----------------------------
import os
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier
from skautodl.controller import CheckpointError

budget = min(30, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 30)))

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)

workdir = tempfile.TemporaryDirectory(prefix="skautodl-checkpoint-")
checkpoint_dir = Path(workdir.name) / "digits-search"
params = {"checkpoint_dir": checkpoint_dir, "random_state": 0, "verbose": 0}

first = AutoDLClassifier(n_trials=4, time_budget=budget, **params)
first.fit(X_train, y_train)
print(f"first fit: {first.n_trials_} trials, stopped by {first.stop_reason_}")
print(f"files in {checkpoint_dir.name}/: "
      f"{sorted(p.name for p in checkpoint_dir.iterdir())}")
done = first.leaderboard_.set_index("trial")["score"]

# %%
# Resume
# ------
# The same directory, data and search-defining parameters; ``n_trials`` and
# ``time_budget`` may change (so may ``n_jobs``, ``device`` and
# ``verbose``). ``n_trials`` counts the restored trials: this ``fit`` runs
# at most 8 - (trials of the first fit) new ones. Checkpoints keep no
# network weights, so the final model is refitted on all the training data.
second = AutoDLClassifier(n_trials=8, time_budget=budget, **params)
second.fit(X_train, y_train)
board = second.leaderboard_.set_index("trial").sort_index()
restored = board.loc[done.index, "score"]
print(f"second fit: {second.n_trials_} trials in all, "
      f"{second.n_trials_ - len(done)} new")
print(board[["score", "epochs_run", "fit_time", "origin"]].round(4).to_string())
same = np.allclose(restored, done, equal_nan=True)
print(f"the first fit's {len(done)} trials came back with the same scores: {same}")

# %%
# What is refused
# ---------------
# A checkpoint belongs to one search: other data, or another value of a
# search-defining parameter (``search``, ``search_space``, ``families``,
# ``cv``, ``scoring``, ``ensemble_size``, ``random_state``, ...) raises
# :class:`~skautodl.controller.CheckpointError` before anything trains, and
# leaves the file as it was.
try:
    AutoDLClassifier(n_trials=8, time_budget=budget, checkpoint_dir=checkpoint_dir,
                     random_state=1, verbose=0).fit(X_train, y_train)
except CheckpointError as exc:
    print(f"CheckpointError: {exc}")

# %%
# Results
# -------
print(f"test accuracy: {second.score(X_test, y_test):.4f}")
workdir.cleanup()
