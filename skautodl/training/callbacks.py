"""skorch callbacks used by every trial: time limit and divergence guard."""

from __future__ import annotations

import math
import time

from skorch.callbacks import Callback

from skautodl.exceptions import TrialDiverged


class TimeLimit(Callback):
    """Stop training between batches once ``deadline`` (``time.time()``) passes.

    It stops the loop the way skorch's own ``EarlyStopping`` does (by raising
    ``KeyboardInterrupt``, which skorch catches), so ``on_train_end`` still
    runs and the best weights are restored. ``stopped_`` tells whether it fired.

    Parameters
    ----------
    deadline : float or None
        A ``time.time()`` value (wall clock, comparable across worker
        processes); None disables the limit.
    """

    def __init__(self, deadline=None):
        self.deadline = deadline

    def initialize(self):
        self.stopped_ = False
        return self

    def on_batch_end(self, net, **kwargs):
        if self.deadline is not None and time.time() > self.deadline:
            self.stopped_ = True
            raise KeyboardInterrupt


class DivergenceGuard(Callback):
    """Fail the trial as soon as a training loss is NaN or infinite.

    Raises :class:`skautodl.exceptions.TrialDiverged`, which the trial turns
    into a failed result, so a diverging configuration costs at most one
    batch instead of a whole training run.
    """

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if not training or loss is None:
            return
        value = float(loss.item()) if hasattr(loss, "item") else float(loss)
        if not math.isfinite(value):
            epoch = len(net.history)
            raise TrialDiverged(
                f"training loss became {value} in epoch {epoch}; the configuration "
                "diverged (learning rate too high?)"
            )


class PruningReporter(Callback):
    """Record the per-epoch validation loss and stop hopeless trials early.

    The fidelity scheduler hands each trial a table of thresholds: for an
    epoch ``e`` (counted over the net's whole history, so it holds across
    resumed trainings) the validation loss that peers of the same rung beat.
    A trial whose loss at ``e`` is worse stops there (between epochs, the
    way skorch's ``EarlyStopping`` stops) and is marked ``pruned_``.

    Parameters
    ----------
    thresholds : dict or None
        ``{epoch: valid_loss}``; None only records the curve.
    """

    def __init__(self, thresholds=None):
        self.thresholds = thresholds

    def initialize(self):
        self.pruned_ = False
        return self

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        loss = net.history[-1].get("valid_loss")
        if loss is None or not self.thresholds:
            return
        limit = self.thresholds.get(epoch)
        if limit is not None and loss > limit:
            self.pruned_ = True
            raise KeyboardInterrupt
