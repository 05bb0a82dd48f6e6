"""Multi-fidelity schedules over epochs: successive halving and Hyperband.

A scheduler turns the searcher's configs into *proposals*: train this
config for so many epochs, possibly continuing the weights of an earlier
trial. Cheap low-epoch trials weed out bad configs; the best ``1/eta`` of
each rung are promoted to ``eta`` times more epochs and resume from their
weights instead of starting over (Li et al., "Hyperband", JMLR 2018).

* :class:`FullFidelity` (``fidelity=None``): every config trains fully.
* :class:`Hyperband` (``fidelity="hyperband"``): brackets of successive
  halving with different trade-offs between many cheap and few long
  trials, cycled.
* ``Hyperband(mode="halving")`` (``fidelity="halving"``): only the most
  aggressive bracket, repeated.

Within a rung, each new trial also gets per-epoch pruning thresholds: the
median validation loss of its finished peers at each epoch (the median
stopping rule of Google Vizier). A trial worse than that at some epoch after
the second stops early and is not promoted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: epochs of a config that does not set max_epochs (skorch nets' default here)
DEFAULT_MAX_EPOCHS = 100


@dataclass
class Proposal:
    """A trial the scheduler wants run."""

    config: dict
    epochs: int  # epochs to train in this trial (one segment)
    total_epochs: int  # epochs the config will have after it (n_resources)
    rung: int = 0
    parent_id: int | None = None
    pruning: dict | None = None
    base_config: dict = field(default_factory=dict)  # what the searcher asked
    from_portfolio: bool = False  # a known-good config, run at full fidelity

    @property
    def is_new(self):
        return self.parent_id is None and self.rung == 0


class FullFidelity:
    """``fidelity=None``: each config trains for its own ``max_epochs``."""

    def propose(self, n, ask):
        out = []
        for c in ask(n):
            # a user's searcher may leave max_epochs to the training default
            epochs = int(c.get("max_epochs", DEFAULT_MAX_EPOCHS))
            out.append(Proposal(config={**c, "max_epochs": epochs}, epochs=epochs,
                                total_epochs=epochs, base_config=c))
        return out

    def report(self, proposal, result):
        pass

    def alive(self):
        """Trial ids whose nets may still be continued."""
        return set()

    def state(self):
        return {}

    def load_state(self, state):
        pass


class Hyperband:
    """Hyperband (or plain successive halving) over epochs.

    Parameters
    ----------
    max_epochs : int
        Largest number of epochs a config is trained for (``R``).
    min_epochs : int or None
        Smallest rung; None uses ``max_epochs // eta**3``, but at least 3
        (never more than ``max_epochs``).
    eta : int, default=3
        Promotion ratio: the best ``1/eta`` of a rung go on with ``eta``
        times the epochs.
    mode : {"hyperband", "halving"}
        Cycle through all brackets, or repeat the most aggressive one.
    prune : bool, default=True
        Give trials per-epoch pruning thresholds from their rung peers.
    """

    def __init__(self, max_epochs, min_epochs=None, eta=3, mode="hyperband",
                 prune=True):
        if mode not in ("hyperband", "halving"):
            raise ValueError(f"mode must be 'hyperband' or 'halving'; got {mode!r}.")
        if eta < 2:
            raise ValueError(f"eta must be >= 2; got {eta}.")
        self.max_epochs = int(max_epochs)
        self.eta = int(eta)
        self.min_epochs = int(min_epochs or min(self.max_epochs,
                                                max(3, self.max_epochs // self.eta**3)))
        self.mode = mode
        self.prune = prune
        self.s_max = max(0, int(math.floor(
            math.log(self.max_epochs / self.min_epochs) / math.log(self.eta) + 1e-9)))
        self._bracket = 0  # brackets started
        self._rung = 0
        self._todo = []  # promotions waiting: [trial_id, config, total_epochs_before]
        self._to_ask = None  # new configs still to ask in rung 0
        self._results = []  # [trial_id, score, base_config, pruned, segments]
        self._dispatched = 0
        self._curves = []  # finished curves of the current rung
        self._start_bracket()

    # -------------------------------------------------------------- plan
    def _s(self):
        if self.mode == "halving":
            return self.s_max
        return self.s_max - (self._bracket % (self.s_max + 1))

    def rung_plan(self, s=None):
        """``[(n_configs, epochs), ...]`` per rung of bracket ``s``."""
        s = self._s() if s is None else s
        n0 = int(math.ceil((self.s_max + 1) / (s + 1) * self.eta**s))
        plan = []
        for i in range(s + 1):
            n_i = max(1, n0 // self.eta**i)  # exact: no float rounding down
            r_i = max(1, int(round(self.max_epochs * self.eta ** (i - s))))
            plan.append((n_i, min(r_i, self.max_epochs)))
        return plan

    def _start_bracket(self):
        self._rung = 0
        self._to_ask = self.rung_plan()[0][0]
        self._todo = []
        self._results = []
        self._dispatched = 0
        self._curves = []

    def _rung_done(self):
        pending = self._to_ask if self._rung == 0 else len(self._todo)
        return pending == 0 and len(self._results) >= self._dispatched

    def _candidates(self):
        """Finished, unpruned results of this rung, best first."""
        candidates = [r for r in self._results
                      if r[1] is not None and math.isfinite(r[1]) and not r[3]]
        candidates.sort(key=lambda r: -r[1])
        return candidates

    def _advance(self):
        """Move to the next rung (promoting) or the next bracket."""
        plan = self.rung_plan()
        if self._rung + 1 < len(plan):
            n_next, _ = plan[self._rung + 1]
            # a rung cut short (the searcher ran out) promotes its top 1/eta
            n_next = min(n_next, max(1, len(self._results) // self.eta))
            promoted = self._candidates()[:n_next]
            if promoted:
                r_now = plan[self._rung][1]
                self._rung += 1
                self._todo = [[r[0], r[2], r_now, r[4]] for r in promoted]
                self._results = []
                self._dispatched = 0
                self._curves = []
                return
        self._bracket += 1
        self._start_bracket()

    def _thresholds(self, until=None):
        """Median peer loss per epoch, for epochs 3 .. ``until - 1``.

        The rung's last epoch is left out: there the trial's own score
        decides (a top score must stay promotable).
        """
        if not self.prune or len(self._curves) < max(3, self.eta):
            return None
        length = max(len(c) for c in self._curves)
        out = {}
        for e in range(1, length + 1):
            values = [c[e - 1] for c in self._curves if len(c) >= e
                      and np.isfinite(c[e - 1])]
            if len(values) >= max(3, self.eta):
                out[e] = float(np.median(values))
        # never prune in the first two epochs: early curves are noisy
        return {e: v for e, v in out.items()
                if e > 2 and (until is None or e < until)} or None

    # -------------------------------------------------------------- protocol
    def propose(self, n, ask):
        out = []
        guard = 0
        while len(out) < n and guard < 4:
            guard += 1
            if self._rung_done() and self._dispatched > 0:
                self._advance()
            plan = self.rung_plan()
            _, r_i = plan[self._rung]
            if self._rung == 0:
                k = min(n - len(out), self._to_ask)
                if k:
                    configs = ask(k)
                    if len(configs) < k and self._dispatched + len(configs) > 0:
                        # the searcher is exhausted: close the rung with the
                        # configs it has instead of waiting forever
                        self._to_ask = len(configs)
                    for c in configs:
                        c = dict(c)
                        out.append(Proposal(
                            config={**c, "max_epochs": r_i}, epochs=r_i,
                            total_epochs=r_i, rung=0, pruning=self._thresholds(r_i),
                            base_config=c))
                        self._to_ask -= 1
                        self._dispatched += 1
                    continue
            else:
                while self._todo and len(out) < n:
                    trial_id, config, before, _segments = self._todo.pop(0)
                    out.append(Proposal(
                        config={**config, "max_epochs": r_i}, epochs=r_i - before,
                        total_epochs=r_i, rung=self._rung, parent_id=trial_id,
                        pruning=self._thresholds(r_i), base_config=config))
                    self._dispatched += 1
                continue
            if not self._rung_done():
                break  # waiting for results of this rung
        return out

    def report(self, proposal, result):
        segments = [list(s) for s in result.segments]
        self._results.append([result.trial_id, result.score if result.ok else None,
                              proposal.base_config, bool(result.pruned), segments])
        if result.ok and result.curve:
            self._curves.append(list(result.curve))

    def alive(self):
        """Trial ids that a later rung of this bracket may continue."""
        plan = self.rung_plan()
        keep = set()
        if self._rung + 1 < len(plan):
            # only the current top n_next can still be promoted
            keep = {r[0] for r in self._candidates()[:plan[self._rung + 1][0]]}
        return keep | {t[0] for t in self._todo}

    def state(self):
        return {
            "bracket": self._bracket, "rung": self._rung, "todo": self._todo,
            "to_ask": self._to_ask, "results": self._results,
            "dispatched": self._dispatched, "curves": self._curves,
        }

    def load_state(self, state):
        self._bracket = state["bracket"]
        self._rung = state["rung"]
        self._todo = [list(t) for t in state["todo"]]
        self._to_ask = state["to_ask"]
        self._results = [list(r) for r in state["results"]]
        # trials dispatched but not reported when the state was saved were
        # lost with the process: do not wait for them
        self._dispatched = min(state["dispatched"], len(self._results))
        self._curves = [list(c) for c in state["curves"]]


def make_scheduler(fidelity, max_epochs):
    """Resolve the ``fidelity`` parameter."""
    if fidelity is None:
        return FullFidelity()
    return Hyperband(max_epochs=max_epochs, mode=fidelity)
