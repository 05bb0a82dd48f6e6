"""The skorch callbacks of every trial.

A time limit, a cycle fitter for time-fitted trials, a divergence guard, a
pruning reporter, and a learning-rate schedule that pickles anywhere.
"""

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
        Whether it stopped the training.
    valid_seconds_ : float
        Duration of the last complete validation pass (0 before the first).
    """

    def __init__(self, deadline=None, scoring_factor=3.0):
        self.deadline = deadline
        self.scoring_factor = scoring_factor

    def initialize(self):
        """Reset the callback before a training (the last validation time is kept).

        Returns
        -------
        TimeLimit
            The callback itself.
        """
        self.stopped_ = False
        # skorch re-initializes every callback on set_params(callbacks__...),
        # as a continued trial does: the last measurement stays valid
        self.valid_seconds_ = getattr(self, "valid_seconds_", 0.0)
        self._valid_start = None
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        """Start timing the validation pass at its first batch.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        training : bool, default=False
            Whether the batch is a training batch (else validation).
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
        if not training and getattr(self, "_valid_start", None) is None:
            self._valid_start = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        """Record the duration of the epoch's validation pass.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
        if getattr(self, "_valid_start", None) is not None:
            self.valid_seconds_ = time.perf_counter() - self._valid_start
            self._valid_start = None

    def on_batch_end(self, net, training=False, **kwargs):
        """Stop the training when scoring would no longer end by the deadline.

        Raises ``KeyboardInterrupt``, which skorch catches to end the
        training loop.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        training : bool, default=False
            Whether the batch is a training batch (else validation).
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
        if not training or self.deadline is None:
            return
        kept = self.scoring_factor * getattr(self, "valid_seconds_", 0.0)
        if time.time() + kept > self.deadline:
            self.stopped_ = True
            raise KeyboardInterrupt


class CycleFitter(Callback):
    """Shorten a cosine cycle that would not end by ``deadline``.

    Used by the time-fitted trials of data-size fidelity: their epochs were
    planned from other trials' speed, which is an estimate. After each
    epoch it measures this training's seconds per epoch and, when the
    epochs left in the cosine cycle would not all end before ``deadline``
    (less the time :class:`TimeLimit` keeps for scoring), shortens the
    cycle to the epochs that fit, so the learning rate still anneals to
    its end; when no further epoch fits it ends training there (as
    skorch's ``EarlyStopping`` does), instead of letting the time limit
    cut an epoch in the middle at a high learning rate. Placed before the
    ``lr_schedule`` callback, whose step then follows the new length.
    Only a cosine schedule is shortened; others are left alone.

    While it is active the cosine anneals per batch, not per epoch (its
    epoch-level value is overridden at each batch), so a cycle of one or
    two epochs still ends near zero.

    Parameters
    ----------
    deadline : float or None
        ``time.time()`` by which training and scoring end; None disables it.

    Attributes
    ----------
    shortened_ : bool
        Whether it shortened the cycle or ended training.
    """

    def __init__(self, deadline=None):
        self.deadline = deadline

    def initialize(self):
        """Reset the callback's state before a training (nothing shortened yet).

        Returns
        -------
        CycleFitter
            The callback itself.
        """
        self.shortened_ = False
        self._start = None
        self._epochs = 0
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Start the clock and note the learning rates and batches per epoch.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        X : array-like or None, default=None
            The training rows (their number sets the batches per epoch).
        y : array-like or None, default=None
            The training targets (unused).
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """

        self._start = None if self.deadline is None else time.time()
        self._epochs = 0
        self._batch = 0
        self.shortened_ = False
        self._base_lr = [g["lr"] for g in net.optimizer_.param_groups]
        n = len(X) if X is not None and hasattr(X, "__len__") else 0
        size = max(1, int(net.batch_size))
        drop = bool(getattr(net, "iterator_train__drop_last", False))
        self._per_epoch = max(1, n // size if drop else -(-n // size))

    @staticmethod
    def _cosine(net):
        from torch.optim.lr_scheduler import CosineAnnealingLR

        sched = getattr(dict(net.callbacks_).get("lr_schedule"), "lr_scheduler_",
                        None)
        return sched if isinstance(sched, CosineAnnealingLR) else None

    def on_batch_begin(self, net, training=False, **kwargs):
        """Set the learning rate of the per-batch cosine.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        training : bool, default=False
            Whether the batch is a training batch (else validation).
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
        if not training or self.deadline is None or self._start is None:
            return
        sched = self._cosine(net)
        if sched is None:
            return
        progress = min(1.0, (self._epochs + self._batch / self._per_epoch)
                       / max(1, sched.T_max))
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
        for group, base in zip(net.optimizer_.param_groups, self._base_lr,
                               strict=False):
            group["lr"] = base * factor
        self._batch += 1

    def on_epoch_end(self, net, **kwargs):
        """Shorten the cycle, or end the training, when the rest would not fit.

        Ending the training raises ``KeyboardInterrupt``, which skorch
        catches (as with its ``EarlyStopping``).

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
        if self.deadline is None or self._start is None:
            return
        from torch.optim.lr_scheduler import CosineAnnealingLR

        self._epochs += 1
        self._batch = 0
        now = time.time()
        per_epoch = (now - self._start) / self._epochs
        callbacks = dict(net.callbacks_)
        limit = callbacks.get("time_limit")
        kept = (limit.scoring_factor * getattr(limit, "valid_seconds_", 0.0)
                if limit is not None else 0.0)
        # 10 % spare: epochs vary (the first is no slower than the rest)
        more = math.floor(0.9 * (self.deadline - now - kept) / max(per_epoch, 1e-9))
        sched = getattr(callbacks.get("lr_schedule"), "lr_scheduler_", None)
        if not isinstance(sched, CosineAnnealingLR):
            return
        if self.shortened_ and self._epochs >= sched.T_max:
            raise KeyboardInterrupt  # the shortened cycle is over
        if self._epochs + more >= sched.T_max:
            return  # the rest of the cycle fits
        self.shortened_ = True
        if more <= 0:
            raise KeyboardInterrupt  # skorch ends training, as EarlyStopping does
        sched.T_max = self._epochs + more


class LRSchedule(LRScheduler):
    """The ``LRScheduler`` of skorch, with no torch scheduler in its pickle.

    After training, skorch 1.4's callback keeps its torch scheduler, which
    holds the optimizer and its state tensors. Those would be pickled
    outside skorch's device handling (skorch issue #1096): a model trained
    on CUDA could not be loaded on a CPU-only machine, and every pickle
    carried a second copy of the optimizer state. The scheduler is rebuilt
    at the start of each training anyway, so it is dropped from the pickle.

    Parameters
    ----------
    policy : str or type, default="WarmRestartLR"
        The torch scheduler class (or skorch's name of one).
    monitor : str or callable, default="train_loss"
        What ``ReduceLROnPlateau`` watches.
    event_name : str, default="event_lr"
        The history key the learning rate is recorded under.
    step_every : {"epoch", "batch"}, default="epoch"
        When the scheduler steps.
    **kwargs
        The scheduler's own arguments (``T_max``, ``max_lr``...).
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
        """Raise when the batch's training loss is not finite.

        Raises :class:`~skautodl.exceptions.TrialDiverged` when the loss
        is NaN or infinite.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        batch : tuple or None, default=None
            The batch (unused).
        training : bool, default=False
            Whether the batch is a training batch (else validation).
        loss : torch.Tensor or float or None, default=None
            The batch's loss.
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
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
        """Reset the callback's state before a training (not pruned).

        Returns
        -------
        PruningReporter
            The callback itself.
        """
        self.pruned_ = False
        return self

    def on_epoch_end(self, net, **kwargs):
        """Stop the training when the epoch's validation loss is above its threshold.

        Stopping raises ``KeyboardInterrupt``, which skorch catches.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            The other arguments skorch passes to the hook (ignored).
        """
        epoch = len(net.history)
        loss = net.history[-1].get("valid_loss")
        if loss is None or not self.thresholds:
            return
        limit = self.thresholds.get(epoch)
        if limit is not None and loss > limit:
            self.pruned_ = True
            raise KeyboardInterrupt

