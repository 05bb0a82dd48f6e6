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

Data-size fidelity (``rows=``): on large data the rungs below the top of
a bracket also train on fewer rows, a stratified subsample of the
training split (:func:`skautodl.data.splits.nested_order` makes every
prefix of it one, so a subsample is a view, and a promotion continues on
a superset of its rows). Rung ``i`` of bracket ``s`` trains on the
fraction ``eta ** (i - s)`` of the rows, never fewer than ``min_rows``:
at 400,000 rows and ``eta=3`` the most aggressive bracket compares 27
configs on about 12,000 rows, 9 on 36,000, 3 on 107,000, and trains the
last on all of them (FLAML's sample-size ladder, in Hyperband's
brackets). Validation always uses the whole validation split, so scores
of all rungs compare. The portfolio's configs then run as the first
bracket's first configs, on its cheapest rung, instead of at full
fidelity (one full-data trial would take the whole budget). The rule that
switches it on is :func:`use_rows`.

With data-size fidelity and a time budget the rungs are also time-aware
(:meth:`Hyperband.set_deadline`): of the time left when a bracket opens,
rung 0 gets half and the rungs above share the other half. Rung 0 stops
taking new configs once its share is spent (its trials so far are ranked
and the top third promoted); a rung that promotes a single config sends it
straight to the top rung (the rungs between would compare nothing); and a
promoted trial trains at most the epochs its share of its rung's time
holds, so the full-data trial at the top ends, annealed, by the deadline
instead of being cut mid-schedule. Without a budget the rungs are as
planned.

Within a rung, each new trial also gets per-epoch pruning thresholds: the
median validation loss of its finished peers at each epoch (the median
stopping rule of Google Vizier). A trial worse than that at some epoch after
the second stops early and is not promoted.

Parallel trials. A rung is promoted only once all its trials have reported,
so that the top ``1/eta`` are exact. While the brackets that are running
wait for their last results, free workers start the next bracket instead
of idling (brackets are independent; the bookkeeping of each stays exact).
With one worker there is never a wait, and the brackets run one after the
other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from skautodl.search.searchers.base import is_failed
from skautodl.search.space import TRAINING_DEFAULTS


def config_epochs(config):
    """Return the epochs ``config`` trains for.

    Parameters
    ----------
    config : dict
        A trial config.

    Returns
    -------
    int
        Its ``max_epochs``, or the training default (60) when unset.
    """
    return int(config.get("max_epochs", TRAINING_DEFAULTS["max_epochs"]))


@dataclass
class Proposal:
    """A trial the scheduler wants run.

    Parameters
    ----------
    config : dict
        The config to train, its ``max_epochs`` set to ``total_epochs``.
    epochs : int
        Epochs to train in this trial (one segment).
    total_epochs : int
        Epochs the config will have had after it (``n_resources``).
    rung : int, default=0
        The rung of its bracket (0: a new config).
    parent_id : int or None, default=None
        The trial whose weights it continues (a promotion).
    pruning : dict or None, default=None
        ``{epoch: loss}`` thresholds of the median stopping rule.
    base_config : dict, default={}
        The config as the searcher asked it.
    bracket : int, default=0
        The Hyperband bracket it belongs to.
    portfolio_index : int or None, default=None
        A known-good config's place in the portfolio.
    fraction : float, default=1.0
        Share of the training rows it trains on (data-size fidelity).
    scheduled : bool, default=True
        Whether its result is reported to the scheduler (False: a
        portfolio config at full fidelity).
    seconds : float or None, default=None
        Its share of its rung's time (time-aware rungs).
    """

    config: dict
    epochs: int  # epochs to train in this trial (one segment)
    total_epochs: int  # epochs the config will have after it (n_resources)
    rung: int = 0
    parent_id: int | None = None
    pruning: dict | None = None
    base_config: dict = field(default_factory=dict)  # what the searcher asked
    bracket: int = 0  # the Hyperband bracket it belongs to
    portfolio_index: int | None = None  # a known-good config's place in the list
    fraction: float = 1.0  # share of the training rows it trains on
    scheduled: bool = True  # reported to the scheduler (False: full fidelity)
    seconds: float | None = None  # its share of its rung's time (time-aware rungs)

    @property
    def from_portfolio(self):
        """A known-good config of the portfolio."""
        return self.portfolio_index is not None

    @property
    def is_new(self):
        """A new config (rung 0, no parent), not a promotion."""
        return self.parent_id is None and self.rung == 0


class FullFidelity:
    """``fidelity=None``: each config trains for its own ``max_epochs``."""

    rows = None  # no data-size fidelity

    def propose(self, n, ask):
        """Turn up to ``n`` new configs into full-length proposals.

        Parameters
        ----------
        n : int
            The most proposals wanted (the free workers).
        ask : callable
            ``ask(k) -> list of dict``: up to ``k`` new configs from the
            searcher (fewer once it is exhausted).

        Returns
        -------
        list of Proposal
            Fewer than ``n`` (maybe none) when the searcher is exhausted.
        """
        out = []
        for c in ask(n):
            # a user's searcher may leave max_epochs to the training default
            epochs = config_epochs(c)
            out.append(Proposal(config={**c, "max_epochs": epochs}, epochs=epochs,
                                total_epochs=epochs, base_config=c))
        return out

    def report(self, proposal, result):
        """Ignore a finished trial: nothing is promoted.

        Parameters
        ----------
        proposal : Proposal
            The proposal the trial ran.
        result : skautodl.training.trial.TrialResult
            Its result.
        """

    def alive(self):
        """List the trial ids whose nets may still be continued.

        Returns
        -------
        set of int
            None: no trial is ever continued.
        """
        return set()

    def state(self):
        """Return the scheduler's state for a checkpoint.

        Returns
        -------
        dict
            JSON-friendly: empty, there is nothing to save.
        """
        return {}

    def load_state(self, state):
        """Continue from a state saved by :meth:`state`.

        Parameters
        ----------
        state : dict
            What :meth:`state` returned.
        """



class _Bracket:
    """One bracket of successive halving: its rungs, what is out, what came back.

    ``plan`` is ``[(n_configs, epochs), ...]`` per rung. ``results`` holds
    ``[trial_id, score or None, base_config, pruned, segments]`` of the
    current rung, ``todo`` the promotions not yet handed out
    (``[trial_id, base_config, epochs_before, segments]``).
    """

    def __init__(self, index, plan):
        self.index = index
        self.plan = plan
        self.rung = 0
        self.to_ask = plan[0][0]  # new configs still to ask in rung 0
        self.todo = []
        self.results = []
        self.dispatched = 0
        self.curves = []  # finished loss curves of the current rung
        self.clock = None  # (opened at, seconds it may take): time-aware rungs

    # ---------------------------------------------------------------- state
    def state(self):
        return {"index": self.index, "plan": [list(r) for r in self.plan],
                "rung": self.rung, "to_ask": self.to_ask, "todo": self.todo,
                "results": self.results, "dispatched": self.dispatched,
                "curves": self.curves}

    @classmethod
    def from_state(cls, state):
        obj = cls(int(state["index"]), [tuple(r) for r in state["plan"]])
        obj.rung = int(state["rung"])
        obj.to_ask = int(state["to_ask"])
        obj.todo = [list(t) for t in state["todo"]]
        obj.results = [list(r) for r in state["results"]]
        # trials dispatched but not reported when the state was saved were
        # lost with the process: do not wait for them
        obj.dispatched = min(int(state["dispatched"]), len(obj.results))
        obj.curves = [list(c) for c in state["curves"]]
        return obj

    # ---------------------------------------------------------------- progress
    def rung_done(self):
        pending = self.to_ask if self.rung == 0 else len(self.todo)
        return pending == 0 and len(self.results) >= self.dispatched

    def waiting(self):
        """Nothing to hand out until running trials report."""
        pending = self.to_ask if self.rung == 0 else len(self.todo)
        return pending == 0 and len(self.results) < self.dispatched

    def candidates(self):
        """Finished, unpruned results of this rung, best first."""
        out = [r for r in self.results if not is_failed(r[1]) and not r[3]]
        out.sort(key=lambda r: -r[1])
        return out

    def advance(self, eta, skip=False):
        """Promote the top of a finished rung; False when the bracket is over.

        ``skip``: a rung that promotes a single config sends it straight to
        the top rung (the rungs between would compare nothing).
        """
        if self.rung + 1 < len(self.plan):
            n_next = self.plan[self.rung + 1][0]
            # a rung cut short (the searcher ran out) promotes its top 1/eta
            n_next = min(n_next, max(1, len(self.results) // eta))
            promoted = self.candidates()[:n_next]
            if promoted:
                r_now = self.plan[self.rung][1]
                self.rung = (len(self.plan) - 1 if skip and len(promoted) == 1
                             else self.rung + 1)
                self.todo = [[r[0], r[2], r_now, r[4]] for r in promoted]
                self.results = []
                self.dispatched = 0
                self.curves = []
                return True
        return False

    def alive(self):
        """Trial ids that a later rung of this bracket may continue."""
        keep = set()
        if self.rung + 1 < len(self.plan):
            # only the current top n_next can still be promoted
            keep = {r[0] for r in self.candidates()[:self.plan[self.rung + 1][0]]}
        return keep | {t[0] for t in self.todo}


class Hyperband:
    """Hyperband (or plain successive halving) over epochs.

    Parameters
    ----------
    max_epochs : int
        Largest number of epochs a config is trained for (``R``).
    min_epochs : int or None, default=None
        Smallest rung; None uses ``max_epochs // eta**3``, but at least 3
        (never more than ``max_epochs``).
    eta : int, default=3
        Promotion ratio: the best ``1/eta`` of a rung go on with ``eta``
        times the epochs.
    mode : {"hyperband", "halving"}, default="hyperband"
        Cycle through all brackets, or repeat the most aggressive one.
    prune : bool, default=True
        Give trials per-epoch pruning thresholds from their rung peers.
    rows : (int, int) or None, default=None
        ``(n_train, min_rows)``: data-size fidelity over ``n_train``
        training rows, no rung below ``min_rows`` (see the module's
        docstring); None trains every rung on all rows.

    Raises
    ------
    ValueError
        For an unknown ``mode`` or ``eta`` below 2.

    Examples
    --------
    The first bracket for ``R = 120`` epochs: 27 configs of 4 epochs, the
    best 9 continued to 13, 3 to 40, 1 to 120 (40 trials in all).

    >>> from skautodl.search.fidelity import Hyperband
    >>> Hyperband(max_epochs=120).rung_plan()
    [(27, 4), (9, 13), (3, 40), (1, 120)]
    """

    def __init__(self, max_epochs, min_epochs=None, eta=3, mode="hyperband",
                 prune=True, rows=None):
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
        self.rows = None if rows is None else (int(rows[0]), int(rows[1]))
        self._portfolio = []  # (index, config) run first, on rung 0
        self.deadline = None
        self.s_max = max(0, int(math.floor(
            math.log(self.max_epochs / self.min_epochs) / math.log(self.eta) + 1e-9)))
        self._started = 0  # brackets started
        self._brackets = []  # active ones, oldest first
        self._open_bracket()

    # -------------------------------------------------------------- plan
    def _s(self, index):
        if self.mode == "halving":
            return self.s_max
        return self.s_max - (index % (self.s_max + 1))

    def rung_plan(self, s=None):
        """Return the plan of bracket ``s``: configs and epochs per rung.

        Parameters
        ----------
        s : int or None, default=None
            The bracket (``s_max`` is the most aggressive, 0 trains every
            config fully); None: the oldest running bracket.

        Returns
        -------
        list of (int, int)
            ``(n_configs, epochs)`` per rung.
        """
        if s is None:
            return list(self._brackets[0].plan) if self._brackets else \
                self.rung_plan(self._s(self._started))
        n0 = int(math.ceil((self.s_max + 1) / (s + 1) * self.eta**s))
        plan = []
        for i in range(s + 1):
            n_i = max(1, n0 // self.eta**i)  # exact: no float rounding down
            r_i = max(1, int(round(self.max_epochs * self.eta ** (i - s))))
            plan.append((n_i, min(r_i, self.max_epochs)))
        return plan

    def fraction(self, rung, s):
        """Return the share of the training rows a rung trains on.

        Parameters
        ----------
        rung : int
            The rung.
        s : int
            Its bracket.

        Returns
        -------
        float
            ``eta ** (rung - s)``, at least ``min_rows / n_train``; 1.0
            without data-size fidelity and on the top rung.
        """
        if self.rows is None or rung >= s:
            return 1.0
        n_train, min_rows = self.rows
        return min(1.0, max(float(self.eta) ** (rung - s), min_rows / max(1, n_train)))

    def set_deadline(self, deadline):
        """Set the time by which the search's trials must end.

        Makes the rungs time-aware under data-size fidelity (see the
        module's description).

        Parameters
        ----------
        deadline : float or None
            A ``time.time()``; None: no limit.
        """
        self.deadline = deadline

    def _rung_end(self, bracket, now):
        """When ``bracket``'s current rung should be over (None: no limit)."""
        if self.rows is None or self.deadline is None:
            return None
        if bracket.clock is None:
            bracket.clock = (now, max(0.0, self.deadline - now))
        opened, total = bracket.clock
        s = len(bracket.plan) - 1
        # rung 0 (the configs compared) gets half of the bracket's time, the
        # rungs above share the other half
        share = 1.0 if s == 0 else 0.5 + 0.5 * bracket.rung / s
        return min(self.deadline, opened + total * share)

    def run_first(self, portfolio):
        """Hand the portfolio's configs out first, as rung-0 configs.

        Used with data-size fidelity only: a full-fidelity portfolio trial
        would take the whole budget on large data.

        Parameters
        ----------
        portfolio : list of (int, dict)
            ``(index, config)`` of the portfolio entries still to run.
        """
        self._portfolio.extend((int(i), dict(c)) for i, c in portfolio)

    def _open_bracket(self):
        bracket = _Bracket(self._started, self.rung_plan(self._s(self._started)))
        self._started += 1
        self._brackets.append(bracket)
        return bracket

    def _thresholds(self, bracket, until=None):
        """Median peer loss per epoch, for epochs 3 .. ``until - 1``.

        The rung's last epoch is left out: there the trial's own score
        decides (a top score must stay promotable).
        """
        curves = bracket.curves
        if not self.prune or len(curves) < max(3, self.eta):
            return None
        length = max(len(c) for c in curves)
        out = {}
        for e in range(1, length + 1):
            values = [c[e - 1] for c in curves if len(c) >= e
                      and np.isfinite(c[e - 1])]
            if len(values) >= max(3, self.eta):
                out[e] = float(np.median(values))
        # never prune in the first two epochs: early curves are noisy
        return {e: v for e, v in out.items()
                if e > 2 and (until is None or e < until)} or None

    # -------------------------------------------------------------- protocol
    def _take(self, bracket, n, ask, out):
        """Hand out up to ``n`` proposals of ``bracket`` into ``out``."""
        while bracket.rung_done() and bracket.dispatched > 0:
            # with data-size fidelity and a deadline, one config left goes
            # straight to all the rows with all the time left
            skip = self.rows is not None and self.deadline is not None
            if not bracket.advance(self.eta, skip=skip):
                return  # over; the caller drops it
        _, r_i = bracket.plan[bracket.rung]
        now = time.time()
        rung_end = self._rung_end(bracket, now)
        if bracket.rung == 0:
            if rung_end is not None and now >= rung_end and bracket.dispatched:
                bracket.to_ask = 0  # its share of the time is spent: rank now
            k = min(n, bracket.to_ask)
            if not k:
                return
            known = self._portfolio[:k]
            del self._portfolio[:k]
            configs = [c for _, c in known]
            configs += ask(k - len(known)) if k > len(known) else []
            if len(configs) < k:
                # the searcher is exhausted: close the rung with the configs
                # it has instead of waiting forever
                bracket.to_ask = len(configs)
            s = len(bracket.plan) - 1
            for j, c in enumerate(configs):
                c = dict(c)
                out.append(Proposal(
                    config={**c, "max_epochs": r_i}, epochs=r_i, total_epochs=r_i,
                    rung=0, pruning=self._thresholds(bracket, r_i), base_config=c,
                    bracket=bracket.index, fraction=self.fraction(0, s),
                    portfolio_index=known[j][0] if j < len(known) else None))
                bracket.to_ask -= 1
                bracket.dispatched += 1
            return
        while bracket.todo and n > 0:
            trial_id, config, before, _segments = bracket.todo.pop(0)
            seconds = (None if rung_end is None else
                       max(0.0, rung_end - now) / (len(bracket.todo) + 1))
            out.append(Proposal(
                config={**config, "max_epochs": r_i}, epochs=r_i - before,
                total_epochs=r_i, rung=bracket.rung, parent_id=trial_id,
                pruning=self._thresholds(bracket, r_i), base_config=config,
                bracket=bracket.index,
                fraction=self.fraction(bracket.rung, len(bracket.plan) - 1),
                seconds=seconds))
            bracket.dispatched += 1
            n -= 1

    def propose(self, n, ask):
        """Up to ``n`` proposals: promotions and new configs, oldest bracket first.

        A bracket whose rung waits for running trials hands out nothing.
        When no running bracket has anything to hand out (they all wait, or
        none is left), a new bracket starts.

        Parameters
        ----------
        n : int
            The most proposals wanted (the free workers).
        ask : callable
            ``ask(k) -> list of dict``: up to ``k`` new configs from the
            searcher (fewer once it is exhausted).

        Returns
        -------
        list of Proposal
            Fewer than ``n`` (maybe none) when the searcher is exhausted or the brackets
            wait for results.
        """
        out = []
        exhausted = False

        def asking(k):
            nonlocal exhausted
            if exhausted or k <= 0:
                return []
            configs = ask(k)
            exhausted = len(configs) < k
            return configs

        opened = False
        while len(out) < n:
            handed, was_exhausted = len(out), exhausted
            for bracket in list(self._brackets):
                self._take(bracket, n - len(out), asking, out)
                if self._finished(bracket):
                    self._brackets.remove(bracket)
                if len(out) >= n:
                    return out
            if len(out) > handed or exhausted != was_exhausted:
                continue  # a rung may have closed: look again
            if out or opened or exhausted:
                break
            # a free worker and nothing to hand out: start the next bracket
            # (with one worker this happens only once the last one is over)
            self._open_bracket()
            opened = True
        return out

    @staticmethod
    def _finished(bracket):
        """Whether ``bracket`` has nothing left to hand out or to wait for."""
        if not bracket.rung_done():
            return False
        return (bracket.dispatched == 0 or bracket.rung + 1 >= len(bracket.plan)
                or not bracket.candidates())

    def report(self, proposal, result):
        """Record a finished trial in its bracket's rung.

        A result of a bracket that has ended is ignored.

        Parameters
        ----------
        proposal : Proposal
            The proposal the trial ran.
        result : skautodl.training.trial.TrialResult
            Its result.
        """
        bracket = next((b for b in self._brackets if b.index == proposal.bracket),
                       None)
        if bracket is None or bracket.rung != proposal.rung:
            return  # a bracket that ended (its trial was lost before)
        segments = [list(s) for s in result.segments]
        bracket.results.append([result.trial_id, result.score if result.ok else None,
                                proposal.base_config, bool(result.pruned), segments])
        if result.ok and result.curve:
            bracket.curves.append(list(result.curve))

    def alive(self):
        """List the trial ids that a later rung of a running bracket may continue.

        Returns
        -------
        set of int
            Their nets must be kept.
        """
        return set().union(*(b.alive() for b in self._brackets))

    def state(self):
        """Return the scheduler's state for a checkpoint.

        Returns
        -------
        dict
            JSON-friendly: the brackets started and the running ones.
        """
        return {"started": self._started,
                "brackets": [b.state() for b in self._brackets]}

    def load_state(self, state):
        """Continue from a state saved by :meth:`state`.

        Parameters
        ----------
        state : dict
            What :meth:`state` returned.
        """
        self._started = int(state["started"])
        self._brackets = [_Bracket.from_state(b) for b in state["brackets"]]
        if not self._brackets:
            self._open_bracket()


#: the smallest subsample a rung trains on with data-size fidelity
MIN_ROWS = 10_000
#: ``fidelity="auto"``'s data-size fidelity starts at this many training rows
AUTO_ROWS = 3 * MIN_ROWS
#: ``fidelity`` values: (schedule, data-size fidelity: "auto", True or False)
FIDELITIES = {
    "hyperband": ("hyperband", "auto"),
    "halving": ("halving", "auto"),
    "hyperband-rows": ("hyperband", True),
    "halving-rows": ("halving", True),
    "hyperband-epochs": ("hyperband", False),
    "halving-epochs": ("halving", False),
}


def use_rows(fidelity, n_train):
    """Tell whether ``fidelity`` trains low rungs on subsamples of the rows.

    ``"hyperband"`` and ``"halving"`` decide by size: from
    :data:`AUTO_ROWS` (30,000) training rows, where the smallest rung still
    holds :data:`MIN_ROWS` (10,000) rows, a stratified sample that ranks
    configs about as a full epoch does, at a third of its cost or less; and
    where, on 2 CPU cores, one full trial of a portfolio config (60
    epochs) already takes a minute or more. ``"...-rows"`` forces it on
    (also on small data), ``"...-epochs"`` off; ``None`` has no rungs.

    Parameters
    ----------
    fidelity : str or None
        The estimator's ``fidelity`` parameter.
    n_train : int
        Training rows of a split.

    Returns
    -------
    bool
        Whether data-size fidelity is on.

    Examples
    --------
    >>> from skautodl.search.fidelity import use_rows
    >>> use_rows("hyperband", 50_000), use_rows("hyperband", 5_000)
    (True, False)
    >>> use_rows("hyperband-rows", 5_000), use_rows(None, 50_000)
    (True, False)
    """
    if fidelity is None or fidelity not in FIDELITIES:
        return False
    wanted = FIDELITIES[fidelity][1]
    return n_train >= AUTO_ROWS if wanted == "auto" else bool(wanted)


def make_scheduler(fidelity, max_epochs, n_train=0, min_rows=None):
    """Resolve the ``fidelity`` parameter into a scheduler.

    Parameters
    ----------
    fidelity : str or None
        One of :data:`FIDELITIES`, or None (every config trains fully).
    max_epochs : int
        The space's largest ``max_epochs``.
    n_train : int, default=0
        Training rows of a split (for data-size fidelity).
    min_rows : int, optional
        The smallest rung's rows; default :data:`MIN_ROWS` from
        :data:`AUTO_ROWS` training rows, a ninth of the rows when forced
        on smaller data.

    Returns
    -------
    FullFidelity or Hyperband
        The scheduler.

    Raises
    ------
    ValueError
        For an unknown ``fidelity``.
    """
    if fidelity is None:
        return FullFidelity()
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {sorted(FIDELITIES)} or None; "
                         f"got {fidelity!r} (mode unknown).")
    mode = FIDELITIES[fidelity][0]
    rows = None
    if use_rows(fidelity, n_train):
        if min_rows is None:
            min_rows = MIN_ROWS if n_train >= AUTO_ROWS else max(1, n_train // 9)
        rows = (n_train, min_rows)
    return Hyperband(max_epochs=max_epochs, mode=mode, rows=rows)
