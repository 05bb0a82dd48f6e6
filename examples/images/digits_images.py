"""
==============================================
Images: the digits through the CNN family
==============================================

The bundled digits (1,797 grayscale images of 8x8 pixels) passed as images
instead of 64 flat columns. For an array of shape ``(n, H, W)`` or
``(n, C, H, W)``, :class:`~skautodl.AutoDLClassifier` searches its residual
CNN family (``families="auto"`` picks it for images): convolutional stages,
width, kernel size, pooling and dropout, and batch augmentations (random
shifts, rotations, cutout, mixup) along with the training settings.

The same images may come as flat rows when ``image_shape`` says their
shape, which lets an image model follow 2-D steps of a
:class:`~sklearn.pipeline.Pipeline`.

Run it with ``python examples/images/digits_images.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (default 60 seconds).
"""

# %%
# Images of shape (n, 8, 8)
# -------------------------
import os

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier
from skautodl.report import plot_confusion_matrix

budget = min(60, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 60)))

digits = load_digits()
images, labels = digits.images, digits.target  # (1797, 8, 8), values 0-16
X_train, X_test, y_train, y_test = train_test_split(
    images, labels, test_size=0.25, stratify=labels, random_state=0)
print(f"train: {X_train.shape}, test: {X_test.shape}")

# %%
# Search CNNs
# -----------
# Each channel is standardized with the training split's mean and standard
# deviation inside ``fit``; images are validated on a holdout split.
clf = AutoDLClassifier(time_budget=budget, random_state=0, verbose=0)
clf.fit(X_train, y_train)
print(f"image_shape_ (C, H, W): {clf.image_shape_}; "
      f"n_features_in_: {clf.n_features_in_}")

columns = ["rank", "trial", "family", "score", "epochs", "fit_time",
           "module__n_stages", "module__width", "module__kernel_size",
           "module__pooling", "augment__shift", "augment__rotation",
           "augment__cutout", "augment__mixup_alpha"]
board = clf.leaderboard_
with pd.option_context("display.width", 200, "display.max_columns", None,
                       "display.precision", 3):
    print(board[[c for c in columns if c in board]].head(8).to_string(index=False))

# %%
# Three ways to pass the same images
# ----------------------------------
# ``predict`` takes ``(n, H, W)``, ``(n, C, H, W)`` or flat rows of
# ``C * H * W`` values, and refuses another image size.
as_images = clf.predict(X_test)
with_channel = clf.predict(X_test[:, None, :, :])
flat = clf.predict(X_test.reshape(len(X_test), -1))
print(f"same predictions for (n, 8, 8), (n, 1, 8, 8) and (n, 64): "
      f"{np.array_equal(as_images, with_channel) and np.array_equal(as_images, flat)}")

# %%
# Flat rows with ``image_shape`` fit the same CNN family: use it when the
# images come as table rows, or after a 2-D pipeline step.
flat_clf = AutoDLClassifier(image_shape=(8, 8), families="cnn",
                            time_budget=budget / 3, random_state=0, verbose=0)
flat_clf.fit(X_train.reshape(len(X_train), -1), y_train)
print(f"flat rows with image_shape=(8, 8): image_shape_ {flat_clf.image_shape_}, "
      f"test accuracy {flat_clf.score(X_test.reshape(len(X_test), -1), y_test):.4f}")

# %%
# What the model confuses
# -----------------------
# The confusion matrix on the test images
# (:func:`skautodl.report.plot_confusion_matrix`): true digits down,
# predicted ones across.
plot_confusion_matrix(clf, X_test, y_test)

# %%
# Results
# -------
print(f"trials run: {clf.n_trials_}; best validation accuracy {clf.best_score_:.4f}")
print(f"test accuracy: {clf.score(X_test, y_test):.4f}")
