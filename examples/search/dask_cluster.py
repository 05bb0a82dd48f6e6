"""
=========================================
Trials on a Dask cluster
=========================================

``n_jobs`` runs several trials at once. By default they run in local worker
processes; inside ``joblib.parallel_backend("dask")`` they run on the Dask
cluster of the active :class:`distributed.Client` instead, each trial one
Dask task. Each featurization of the data is scattered to every worker once
and trials carry only their configuration; each worker gets a new trial the
moment it finishes one, and a worker that dies fails only its own trial.

This example starts a :class:`distributed.LocalCluster` of two workers on
this machine. ``processes=False`` makes the workers threads of this
process, so the script runs as it is (worker *processes*, the usual choice,
need the code that starts them under ``if __name__ == "__main__":``, as
every script that starts processes does). For a real cluster, connect the
client to its scheduler instead: ``Client("tcp://scheduler:8786")``.

Needs the ``dask`` extra (``pip install "skautodl[dask]"``). Run it with
``python examples/search/dask_cluster.py``; ``SKAUTODL_EXAMPLE_BUDGET``
caps the time budget (default 60 seconds).
"""

# %%
# Start a cluster and fit inside the Dask backend
# -----------------------------------------------
import os
from collections import Counter

from distributed import Client, LocalCluster, get_task_stream
from joblib import parallel_backend
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier

budget = min(60, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 60)))

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=None)
client = Client(cluster)
print(f"workers and their threads: {client.nthreads()}")

# %%
# ``n_jobs=-1`` runs as many trials at once as the cluster has worker
# threads (here 2); each trial trains with one torch thread. Dask's
# :func:`~distributed.get_task_stream` records which worker ran each task.
with parallel_backend("dask"), get_task_stream(client) as stream:
    clf = AutoDLClassifier(time_budget=budget, n_jobs=-1, random_state=0,
                           verbose=0)
    clf.fit(X_train, y_train)
trials_per_worker = Counter(task["worker"] for task in stream.data
                            if task["key"].startswith("run_job"))
print(f"trial tasks per Dask worker: {dict(trials_per_worker)}")

# %%
# Close the client and the cluster when done (a ``with`` block does the
# same: ``with LocalCluster(...) as cluster, Client(cluster) as client:``).
client.close()
cluster.close()

# %%
# Which worker ran what
# ---------------------
# The leaderboard's ``worker`` column names the process (``host:pid``) that
# ran each trial: with ``processes=False`` both workers live in this one
# (on a cluster of processes or machines, each has its own).
board = clf.leaderboard_
print(board[["rank", "trial", "family", "score", "fit_time",
             "worker"]].head(10).to_string(index=False))
print(f"\n{clf.n_trials_} trials, stopped by {clf.stop_reason_}")
print(f"test accuracy: {clf.score(X_test, y_test):.4f}")
