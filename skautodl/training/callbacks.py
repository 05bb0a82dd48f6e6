"""skorch callbacks used by every trial: time limit, divergence guard,
pruning reporter, and a learning-rate schedule that pickles anywhere."""

from __future__ import annotations

import math
import time

from skorch.callbacks import Callback, LRScheduler

from skautodl.exceptions import TrialDiverged


class TimeLimit(Callback):
    """Stop training between batches so that scoring still ends by ``deadline``.

    Training stops once ``time.time()`` plus the time kept for scoring
    passes ``deadline``; the time kept is ``scoring_factor`` times the
    seconds the last epoch's validation pass took (the trial's final
    scoring pass runs over the same rows, in float64 on the CPU). It stops
    the loop the way skorch's own ``EarlyStopping`` does (by raising
    ``KeyboardInterrupt``, which skorch catches), so ``on_train_end`` still
    runs and the best weights are restored. ``stopped_`` tells whether it
    fired.

    Parameters
    ----------
    deadline : float or None
        A ``time.time()`` value (wall clock, comparable across worker
        processes); None disables the limit.
    scoring_factor : float, default=3.0
        Seconds kept for scoring, per second of the last validation pass.

    Attributes
    ----------
    stopped_ : bool
    valid_seconds_ : float
        Duration of the last complete validation pass (0 before the first).
    """

    def __init__(self, deadline=None, scoring_factor=3.0):
        self.deadline = deadline
        self.scoring_factor = scoring_factor

    def initialize(self):
        self.stopped_ = False
        # skorch re-initializes every callback on set_params(callbacks__...),
        # as a continued trial does: the last measurement stays valid
        self.valid_seconds_ = getattr(self, "valid_seconds_", 0.0)
        self._valid_start = None
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training and getattr(self, "_valid_start", None) is None:
            self._valid_start = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        if getattr(self, "_valid_start", None) is not None:
            self.valid_seconds_ = time.perf_counter() - self._valid_start
            self._valid_start = None

    def on_batch_end(self, net, training=False, **kwargs):
        if not training or self.deadline is None:
            return
        kept = self.scoring_factor * getattr(self, "valid_seconds_", 0.0)
        if time.time() + kept > self.deadline:
            self.stopped_ = True
            raise KeyboardInterrupt


class LRSchedule(LRScheduler):
    """skorch's ``LRScheduler`` whose pickle holds no torch scheduler.

    After training, skorch 1.4's callback keeps its torch scheduler, which
    holds the optimizer and its state tensors. Those would be pickled
    outside skorch's device handling (skorch issue #1096): a model trained
    on CUDA could not be loaded on a CPU-only machine, and every pickle
    carried a second copy of the optimizer state. The scheduler is rebuilt
    at the start of each training anyway, so it is dropped from the pickle.
    """

    def __getstate__(self):
        state = self.__dict__.copy()
        state["lr_scheduler_"] = None
        return state


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
