"""Tests of skautodl/search/fidelity.py: Hyperband / successive halving over epochs.

Most tests drive a scheduler with a fake ``ask`` and made-up TrialResults
(no training); a few run it through ``run_search`` with a fake evaluator,
and two small ones fit a real AutoDLClassifier.
"""

import json
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import get_scorer

from skautodl import AutoDLClassifier
from skautodl.controller import run_search
from skautodl.data.featurize import prepare_splits
from skautodl.data.splits import make_splits
from skautodl.data.validation import TaskInfo
from skautodl.exceptions import TrialFailedWarning
from skautodl.search.fidelity import FullFidelity, Hyperband, make_scheduler
from skautodl.training.callbacks import PruningReporter
from skautodl.training.trial import TrialResult, run_trial


# ---------------------------------------------------------------------- helpers
class Asker:
    """A fake ``ask``: configs ``{"id": k}`` in order, at most ``limit`` of them."""

    def __init__(self, limit=None, max_epochs=81):
        self.limit = limit
        self.max_epochs = max_epochs
        self.n = 0

    def __call__(self, k):
        if self.limit is not None:
            k = max(0, min(k, self.limit - self.n))
        out = [{"family": "fake", "id": self.n + i, "max_epochs": self.max_epochs}
               for i in range(k)]
        self.n += k
        return out


def default_score(config_id, rung):
    """Deterministic, order-scrambling scores (distinct for ids < 101)."""
    return ((config_id * 37 + rung * 11) % 101) / 101


class Driver:
    """Runs a scheduler the way the controller does, on made-up results.

    ``outcome(proposal, trial_id)`` returns keyword overrides for the
    result: ``score``, ``failed``, ``pruned``, ``curve``.
    """

    def __init__(self, scheduler, ask=None, outcome=None):
        self.scheduler = scheduler
        self.ask = ask or Asker()
        self.outcome = outcome or (lambda p, tid: {})
        self.proposals = []  # index = trial id
        self.results = []

    def propose(self, n=1):
        props = self.scheduler.propose(n, self.ask)
        ids = list(range(len(self.proposals), len(self.proposals) + len(props)))
        self.proposals.extend(props)
        return list(zip(ids, props, strict=True))

    def report(self, batch):
        for tid, p in batch:
            result = self.make_result(p, tid, **self.outcome(p, tid))
            self.results.append(result)
            self.scheduler.report(p, result)

    def step(self, n=1):
        batch = self.propose(n)
        self.report(batch)
        return [p for _, p in batch]

    def run(self, n_trials, n=1):
        while len(self.results) < n_trials:
            if not self.step(min(n, n_trials - len(self.results))):
                break

    def make_result(self, p, tid, score=None, failed=False, pruned=False,
                    curve=None):
        prior = [] if p.parent_id is None else self.results[p.parent_id].segments
        if failed:
            return TrialResult(config=dict(p.config), status="failed",
                               score=float("nan"), error="ValueError: boom",
                               segments=list(prior), trial_id=tid, rung=p.rung,
                               parent_id=p.parent_id)
        if score is None:
            score = default_score(p.base_config["id"], p.rung)
        if curve is None:
            curve = [1.0 / (e + 1) for e in range(p.total_epochs)]
        return TrialResult(config=dict(p.config), status="ok", score=score,
                           split_scores=[score], epochs=p.total_epochs,
                           epochs_run=p.epochs, pruned=pruned,
                           segments=[*prior, (p.epochs, p.epochs)], curve=curve,
                           trial_id=tid, rung=p.rung, parent_id=p.parent_id)


@pytest.fixture
def one_torch_thread():
    """Tiny nets train fastest on one thread (and do not stall on a busy host)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def summary(proposals):
    return [(p.rung, p.epochs, p.total_epochs, p.parent_id) for p in proposals]


# ---------------------------------------------------------------------- plan
def test_rung_plan_matches_the_hyperband_table():
    hb = Hyperband(max_epochs=81, eta=3)
    assert hb.min_epochs == 3 and hb.s_max == 3
    assert hb.rung_plan(3) == [(27, 3), (9, 9), (3, 27), (1, 81)]
    assert hb.rung_plan(2) == [(12, 9), (4, 27), (1, 81)]
    assert hb.rung_plan(1) == [(6, 27), (2, 81)]
    assert hb.rung_plan(0) == [(4, 81)]
    assert hb.rung_plan() == hb.rung_plan(3)  # the first bracket is the widest


def test_rung_plan_with_one_epoch_rungs_is_the_papers_table():
    # Li et al. 2018, Table 1 (R=81, eta=3)
    hb = Hyperband(max_epochs=81, min_epochs=1, eta=3)
    assert hb.s_max == 4
    assert [hb.rung_plan(s) for s in range(4, -1, -1)] == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_rung_sizes_are_exact_integer_divisions(eta):
    # 3**13 epochs with 1-epoch rungs: bracket 6 has n0 = 1458 = 2 * 3**6,
    # where float arithmetic (1458 * 3**-6 = 1.999...) used to lose a config
    hb = Hyperband(max_epochs=3**13, min_epochs=1, eta=eta)
    for s in range(hb.s_max + 1):
        plan = hb.rung_plan(s)
        n0 = plan[0][0]
        assert [n for n, _ in plan] == [max(1, n0 // eta**i) for i in range(s + 1)]
        epochs = [r for _, r in plan]
        assert epochs[-1] == hb.max_epochs
        assert all(a < b for a, b in zip(epochs, epochs[1:], strict=False))


def test_halving_repeats_the_most_aggressive_bracket():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb)
    driver.run(40)  # one full bracket: 27 + 9 + 3 + 1
    assert summary(driver.proposals).count((0, 3, 3, None)) == 27
    assert driver.proposals[-1].total_epochs == 81
    assert hb.rung_plan() == [(27, 3), (9, 9), (3, 27), (1, 81)]
    # the next bracket is the same one again, not the next-less-aggressive one
    (p,) = driver.step()
    assert (p.rung, p.epochs, p.parent_id) == (0, 3, None)
    assert hb.rung_plan() == [(27, 3), (9, 9), (3, 27), (1, 81)]


def test_default_min_epochs():
    assert Hyperband(81).min_epochs == 3  # 81 // 3**3
    assert Hyperband(243).min_epochs == 9
    assert Hyperband(9).min_epochs == 3  # never rungs of 1 or 2 epochs ...
    assert Hyperband(9).s_max == 1
    assert Hyperband(2).min_epochs == 2  # ... unless max_epochs is that small
    assert Hyperband(2).s_max == 0
    assert Hyperband(2).rung_plan() == [(1, 2)]
    assert Hyperband(81, eta=2).min_epochs == 10  # 81 // 2**3
    assert Hyperband(81, min_epochs=9).s_max == 2


def test_invalid_mode_and_eta_raise():
    with pytest.raises(ValueError, match="mode"):
        Hyperband(81, mode="bohb")
    with pytest.raises(ValueError, match="eta"):
        Hyperband(81, eta=1)
    with pytest.raises(ValueError, match="mode"):
        make_scheduler("successive", 81)


def test_make_scheduler():
    assert isinstance(make_scheduler(None, 81), FullFidelity)
    hb = make_scheduler("hyperband", 27)
    assert isinstance(hb, Hyperband) and hb.mode == "hyperband"
    assert hb.max_epochs == 27
    assert make_scheduler("halving", 27).mode == "halving"


def test_full_fidelity_trains_each_config_fully():
    ff = FullFidelity()
    ask = Asker(max_epochs=7)
    props = ff.propose(3, ask)
    assert [(p.epochs, p.total_epochs, p.rung, p.parent_id) for p in props] == [
        (7, 7, 0, None)] * 3
    assert all(p.is_new and p.pruning is None for p in props)
    assert [p.base_config["id"] for p in props] == [0, 1, 2]
    assert ff.alive() == set() and ff.state() == {}


# ---------------------------------------------------------------------- promotions
def test_top_third_of_each_rung_is_promoted():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb)
    rung0 = driver.propose(100)  # the whole first rung at once, no more
    assert len(rung0) == 27
    assert all(p.is_new and p.epochs == 3 and p.total_epochs == 3
               and p.config["max_epochs"] == 3 for _, p in rung0)
    driver.report(rung0)

    previous = rung0
    for rung, (n, epochs, before) in enumerate([(9, 9, 3), (3, 27, 9), (1, 81, 27)],
                                               start=1):
        batch = driver.propose(100)
        scores = {tid: driver.results[tid].score for tid, _ in previous}
        top = sorted(scores, key=lambda t: -scores[t])[:n]
        assert [p.parent_id for _, p in batch] == top
        for _, p in batch:
            parent = driver.proposals[p.parent_id]
            assert p.rung == rung and not p.is_new
            assert p.epochs == epochs - before
            assert p.total_epochs == epochs and p.config["max_epochs"] == epochs
            assert p.base_config == parent.base_config
            assert p.config == {**parent.base_config, "max_epochs": epochs}
        driver.report(batch)
        previous = batch
    # each finished config has segments adding up to 81 epochs
    assert sum(e for e, _ in driver.results[-1].segments) == 81


def test_failed_and_pruned_trials_are_never_promoted():
    bad = {}

    def outcome(p, tid):
        if p.rung == 0 and tid % 3 == 0:
            bad[tid] = "failed"
            return {"failed": True}
        if p.rung == 0 and tid % 3 == 1:
            bad[tid] = "pruned"
            return {"pruned": True, "score": 0.99}  # best score, but pruned
        return {}

    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb, outcome=outcome)
    driver.run(27)
    promoted = driver.step(100)
    parents = {p.parent_id for p in promoted}
    assert len(promoted) == 9  # exactly the 9 ok, unpruned ones
    assert parents == {t for t in range(27) if t % 3 == 2}
    assert not parents & set(bad)


def test_rung_with_fewer_candidates_promotes_those_left():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb, outcome=lambda p, tid: {"failed": tid >= 4})
    driver.run(27)
    promoted = driver.step(100)
    assert sorted(p.parent_id for p in promoted) == [0, 1, 2, 3]


def test_bracket_whose_first_rung_all_fail_moves_on():
    hb = Hyperband(max_epochs=81)
    driver = Driver(hb, outcome=lambda p, tid: {"failed": p.total_epochs == 3})
    driver.run(27)
    assert hb.alive() == set()
    nxt = driver.propose(100)
    # the next bracket: 12 new configs at 9 epochs, no promotion
    assert len(nxt) == 12
    assert all(p.is_new and p.epochs == 9 and p.total_epochs == 9
               for _, p in nxt)
    assert [p.base_config["id"] for _, p in nxt] == list(range(27, 39))


def test_promoted_trials_that_all_fail_end_the_bracket():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb, outcome=lambda p, tid: {"failed": p.rung == 1})
    driver.run(27 + 9)
    (p,) = driver.step()
    assert (p.rung, p.epochs, p.parent_id) == (0, 3, None)  # a fresh bracket


def test_hyperband_cycles_through_brackets():
    hb = Hyperband(max_epochs=81)
    driver = Driver(hb)
    driver.run(40 + 17 + 8 + 4 + 1)
    counts = [(p.rung, p.total_epochs) for p in driver.proposals]
    assert counts[:40] == ([(0, 3)] * 27 + [(1, 9)] * 9 + [(2, 27)] * 3
                           + [(3, 81)])
    assert counts[40:57] == [(0, 9)] * 12 + [(1, 27)] * 4 + [(2, 81)]
    assert counts[57:65] == [(0, 27)] * 6 + [(1, 81)] * 2
    assert counts[65:69] == [(0, 81)] * 4
    assert counts[69] == (0, 3)  # and round again
    # only rung-0 proposals ask the searcher for configs
    new = [p for p in driver.proposals if p.is_new]
    assert len(new) == 27 + 12 + 6 + 4 + 1 == driver.ask.n


def test_parallel_rungs_hand_out_promotions_in_batches():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb)
    driver.run(27, n=4)
    first = driver.propose(4)
    assert [p.rung for _, p in first] == [1] * 4
    second = driver.propose(4)
    third = driver.propose(4)
    assert len(second) == 4 and len(third) == 1  # 9 promotions in all
    parents = [p.parent_id for _, p in first + second + third]
    assert len(set(parents)) == 9
    # the rung waits for its results: a free worker starts the next bracket
    nxt = driver.propose(4)
    assert [(p.bracket, p.rung, p.is_new) for _, p in nxt] == [(1, 0, True)] * 4


def test_waiting_bracket_lets_the_next_start_and_both_stay_exact():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb)
    rung0 = driver.propose(100)  # a whole rung at once: only this bracket's
    assert len(rung0) == 27 and {p.bracket for _, p in rung0} == {0}
    # every running bracket waits: the next one starts, one config at a time
    extra = [driver.propose(1)[0] for _ in range(5)]
    assert [(p.bracket, p.rung, p.epochs) for _, p in extra] == [(1, 0, 3)] * 5
    assert [p.base_config["id"] for _, p in extra] == list(range(27, 32))
    driver.report(extra)  # bracket 1's results come first...
    driver.report(rung0)  # ...and do not enter bracket 0's rung
    batch = driver.propose(9)
    by_id = {r.trial_id: r.score for r in driver.results}
    scores = {tid: by_id[tid] for tid, _ in rung0}
    top = sorted(scores, key=lambda t: -scores[t])[:9]
    assert [p.parent_id for _, p in batch] == top
    assert all((p.bracket, p.rung, p.total_epochs) == (0, 1, 9) for _, p in batch)
    # bracket 1 goes on where it was: 22 more new configs in its first rung
    more = driver.propose(100)
    assert len(more) == 22
    assert all((p.bracket, p.rung) == (1, 0) for _, p in more)
    # the state holds both brackets and restores them
    assert [b["index"] for b in hb.state()["brackets"]] == [0, 1]
    assert _restored(hb).alive() == hb.alive()


def test_alive_lists_the_nets_a_later_rung_may_need():
    scores = {}

    def outcome(p, tid):
        if p.rung == 0 and tid == 5:
            return {"failed": True}
        return {}

    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb, outcome=outcome)
    assert hb.alive() == set()
    driver.run(27)
    for r in driver.results:
        scores[r.trial_id] = r.score if r.ok else -1
    top9 = set(sorted(scores, key=lambda t: -scores[t])[:9])
    alive = hb.alive()
    assert top9 <= alive  # every net that may be promoted is kept
    assert 5 not in alive  # a failed trial has nothing to continue
    assert len(alive) == 9  # the others can no longer make it
    batch = driver.propose(4)
    waiting = top9 - {p.parent_id for _, p in batch}
    assert hb.alive() == waiting  # parents still to be handed out
    driver.report(batch)
    assert waiting <= hb.alive()
    assert {tid for tid, _ in batch} & hb.alive()  # rung-1 results may go on
    driver.run(40)  # the end of the bracket
    assert hb.alive() == set()  # the last rung's nets are never continued


def test_exhausted_searcher_closes_the_rung_and_promotes():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb, ask=Asker(limit=7))
    driver.run(7, n=4)
    assert hb.alive()  # the 7 trials may still be promoted
    promoted = driver.step(100)
    # the top third of the 7 configs that exist go on to 9 epochs
    assert len(promoted) == 2
    assert all(p.rung == 1 and p.total_epochs == 9 for p in promoted)
    assert driver.step(100)[0].total_epochs == 27
    assert driver.step(100)[0].total_epochs == 81
    assert driver.step(100) == []  # nothing left to ask or promote
    assert hb.alive() == set()


# ---------------------------------------------------------------------- pruning
def test_no_thresholds_until_enough_peers_have_finished():
    hb = Hyperband(max_epochs=81, min_epochs=9)  # first bracket: 9 configs x 9
    assert hb.rung_plan() == [(9, 9), (3, 27), (1, 81)]
    driver = Driver(hb)
    seen = [p.pruning for p in (driver.step()[0] for _ in range(5))]
    assert seen[:3] == [None, None, None]  # 0, 1, 2 finished peers
    assert seen[3] is not None and seen[4] is not None

    hb4 = Hyperband(max_epochs=64, min_epochs=4, eta=4)  # 16 configs x 4
    driver4 = Driver(hb4)
    seen4 = [p.pruning for p in (driver4.step()[0] for _ in range(6))]
    assert seen4[:4] == [None] * 4  # eta=4 needs 4 peers
    assert seen4[4] is not None


def test_thresholds_are_the_median_of_peer_curves_after_epoch_two():
    curves = [[5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0],
              [6.0, 5.0, 4.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0],
              [9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0],
              [7.0, 6.0, 5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0],
              [1.0] * 9]
    hb = Hyperband(max_epochs=81, min_epochs=9)
    driver = Driver(hb, outcome=lambda p, tid: {"curve": curves[tid]})
    driver.run(3)
    (p,) = driver.step()
    # epochs 3..8: the rung's last epoch (9) is left to the trial's score
    expected = {e: float(np.median([c[e - 1] for c in curves[:3]]))
                for e in range(3, 9)}
    assert p.pruning == expected
    assert 1 not in p.pruning and 2 not in p.pruning  # early epochs are noisy
    (p,) = driver.step()
    assert p.pruning == {e: float(np.median([c[e - 1] for c in curves[:4]]))
                         for e in range(3, 9)}
    assert p.pruning[3] == 4.5  # median of 3, 4, 9, 5


def test_thresholds_skip_failed_trials_nan_and_sparse_epochs():
    def outcome(p, tid):
        if tid == 0:
            return {"failed": True}
        if tid == 1:
            return {"curve": [2.0] * 4, "pruned": True}  # stopped after epoch 4
        if tid == 2:  # stopped after epoch 5, nan at epoch 3
            return {"curve": [1.0, 1.0, float("nan"), 1.0, 1.0], "pruned": True}
        return {"curve": [3.0] * 9}

    hb = Hyperband(max_epochs=81, min_epochs=9)
    driver = Driver(hb, outcome=outcome)
    driver.run(5)
    (p,) = driver.step()
    # finite values per epoch: 3: {2, 3, 3}; 4: {2, 1, 3, 3}; 5: {1, 3, 3};
    # 6-9: only two peers got there, too few for a median
    assert p.pruning == {3: 3.0, 4: 2.5, 5: 3.0}


def test_no_thresholds_without_pruning():
    hb = Hyperband(max_epochs=81, min_epochs=9, prune=False)
    driver = Driver(hb)
    driver.run(9)
    assert all(p.pruning is None for p in driver.proposals)
    assert all(p.pruning is None for p in driver.step(100))


def test_promotions_get_thresholds_from_their_own_rung():
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb, outcome=lambda p, tid: {
        "curve": [float(tid)] * p.total_epochs})
    driver.run(27)
    first = driver.step(3)
    assert all(p.pruning is None for p in first)  # no rung-1 peer yet
    (p,) = driver.step()
    rung1 = [float(tid) for tid in range(27, 30)]
    assert p.pruning == {e: float(np.median(rung1)) for e in range(3, 9)}


class FakeNet:
    def __init__(self, losses):
        self.history = [{"valid_loss": v} for v in losses]


def test_pruning_reporter_stops_a_net_worse_than_the_threshold():
    cb = PruningReporter({3: 0.5, 4: 0.4}).initialize()
    cb.on_epoch_end(FakeNet([9.0, 9.0]))  # no threshold for epoch 2
    cb.on_epoch_end(FakeNet([9.0, 9.0, 0.5]))  # equal is not worse
    assert cb.pruned_ is False
    with pytest.raises(KeyboardInterrupt):
        cb.on_epoch_end(FakeNet([9.0, 9.0, 0.5, 0.41]))
    assert cb.pruned_ is True
    assert cb.initialize().pruned_ is False
    cb_none = PruningReporter(None).initialize()
    cb_none.on_epoch_end(FakeNet([9.0, 9.0, 9.0]))
    assert cb_none.pruned_ is False


FAST = {"family": "mlp", "max_epochs": 8, "lr": 1e-2, "batch_size": 16,
        "module__n_units": 16, "module__n_layers": 1, "module__dropout": 0.0}


@pytest.fixture(scope="module")
def clf_data(tiny_classification):
    X, y_idx, labels = tiny_classification
    y = labels[y_idx]
    splits = make_splits(X, y, cv=None, validation_fraction=0.25,
                         classification=True, seed=0)
    task = TaskInfo("binary", 2, n_samples=len(y))
    return prepare_splits(X, y_idx, y, splits), task, labels


def test_pruning_stops_a_real_trial_early(clf_data, one_torch_thread):
    data, task, labels = clf_data
    scorer = get_scorer("accuracy")
    pruned = run_trial(FAST, data, task, scorer=scorer, classes=labels, seed=0,
                       pruning={3: 0.0})  # no cross-entropy is below 0
    assert pruned.ok and pruned.pruned
    assert pruned.epochs_run == 3 and len(pruned.curve) == 3
    kept = run_trial(FAST, data, task, scorer=scorer, classes=labels, seed=0,
                     pruning={3: 1e9})
    assert kept.ok and not kept.pruned
    assert kept.epochs_run == 8
    # a continued net counts epochs over its whole history
    more = run_trial({**FAST, "max_epochs": 4}, data, task, scorer=scorer,
                     classes=labels, seed=0, warm_nets=kept.nets,
                     pruning={10: 0.0}, prior_segments=kept.segments)
    assert more.pruned and more.epochs_run == 2 and len(more.curve) == 10


# ---------------------------------------------------------------------- state
def _restored(hb):
    other = Hyperband(hb.max_epochs, min_epochs=hb.min_epochs, eta=hb.eta,
                      mode=hb.mode, prune=hb.prune)
    other.load_state(json.loads(json.dumps(hb.state())))
    return other


@pytest.mark.parametrize("mode, done", [
    ("hyperband", 5),  # mid first rung, with pruning thresholds
    ("hyperband", 27 + 4),  # mid promotions
    ("hyperband", 40 + 13),  # second bracket, second rung
    ("halving", 40 + 27),  # second bracket, rung 0 just finished
])
def test_restored_scheduler_proposes_what_the_original_would(mode, done):
    def outcome(p, tid):
        return {"curve": [1.0 + ((tid * 7) % 5) / (e + 1)
                          for e in range(p.total_epochs)]}

    original = Driver(Hyperband(81, mode=mode), outcome=outcome)
    original.run(done, n=3)
    state = original.scheduler.state()
    restored = Driver(_restored(original.scheduler), outcome=outcome)
    restored.proposals = list(original.proposals)
    restored.results = list(original.results)
    restored.ask.n = original.ask.n
    assert json.loads(json.dumps(restored.scheduler.state())) == json.loads(
        json.dumps(state))
    for _ in range(25):
        a = original.step(3)
        b = restored.step(3)
        assert a == b
        assert original.scheduler.alive() == restored.scheduler.alive()
    assert any(p.parent_id is not None for p in original.proposals[done:])


def test_restored_state_with_unreported_trials_finishes_the_rung():
    # a checkpoint written between two results of one batch: the rest of
    # the batch is lost with the process, and must not be waited for
    hb = Hyperband(max_epochs=81, mode="halving")
    driver = Driver(hb)
    driver.run(24, n=4)
    batch = driver.propose(4)
    assert len(batch) == 3
    driver.report(batch[:1])
    restored = Driver(_restored(hb))
    restored.proposals = driver.proposals[:25]
    restored.results = list(driver.results)
    restored.ask.n = driver.ask.n
    promoted = restored.step(100)
    assert promoted and all(p.rung == 1 for p in promoted)
    assert len(promoted) == 25 // 3


# ---------------------------------------------------------------------- controller
class ListSearcher:
    def __init__(self, limit=None, max_epochs=27):
        self.limit = limit
        self.max_epochs = max_epochs
        self.asked = 0
        self.told = []

    def ask(self, n=1):
        if self.limit is not None:
            n = max(0, min(n, self.limit - self.asked))
        out = [{"family": "fake", "id": self.asked + i,
                "max_epochs": self.max_epochs} for i in range(n)]
        self.asked += n
        return out

    def tell(self, configs, scores):
        self.told.extend(zip(configs, scores, strict=True))


class FakeEvaluator:
    """Trains nothing: segments, curve and a named net per trial."""

    def __init__(self, keep_nets=lambda job: True):
        self.keep_nets = keep_nets
        self.jobs = []

    def __call__(self, job):
        self.jobs.append(job)
        config = dict(job.config)
        epochs = int(config["max_epochs"])
        segments = [*job.prior_segments, (epochs, epochs)]
        total = sum(e for e, _ in segments)
        score = default_score(config["id"], job.rung)
        return TrialResult(
            config=config, status="ok", score=score, split_scores=[score],
            epochs=total, epochs_run=epochs, fit_time=0.01,
            nets=[f"net-{job.trial_id}"] if self.keep_nets(job) else [],
            valid_predictions=[np.zeros(2)], segments=segments,
            curve=[1.0 / (e + 1) for e in range(total)], trial_id=job.trial_id,
            rung=job.rung, parent_id=job.parent_id, seed=job.seed)


def test_run_search_continues_promoted_trials_from_their_parents():
    searcher, evaluator = ListSearcher(), FakeEvaluator()
    # Hyperband(27): brackets 9x3 -> 3x9 -> 1x27, 5x9 -> 1x27, 3x27
    outcome = run_search(searcher, evaluator, scheduler=Hyperband(27),
                         n_trials=13 + 6 + 3, seeds=np.random.RandomState(0))
    results = outcome.results
    assert [r.rung for r in results] == [0] * 9 + [1] * 3 + [2] + [0] * 5 + [1] \
        + [0] * 3
    promoted = [job for job in evaluator.jobs if job.parent_id is not None]
    assert len(promoted) == 5
    for job in promoted:
        parent = results[job.parent_id]
        assert job.warm_nets == [f"net-{job.parent_id}"]
        assert job.prior_segments == tuple(parent.segments)
        assert job.rung == parent.rung + 1
        assert job.config["id"] == parent.config["id"]
        # the job trains only the missing epochs; its result reports the total
        total = results[job.trial_id].config["max_epochs"]
        assert job.config["max_epochs"] == total - parent.config["max_epochs"]
        assert results[job.trial_id].epochs == total
        assert results[job.trial_id].parent_id == job.parent_id
    # the searcher hears about new configs only, each once
    assert [c["id"] for c, _ in searcher.told] == list(range(9 + 5 + 3))
    assert searcher.asked == 17
    assert all(c["max_epochs"] == 27 for c, _ in searcher.told)
    assert set(outcome.nets) <= {outcome.best_index}  # nothing left to continue


def test_promotion_without_parent_nets_restarts_from_scratch():
    evaluator = FakeEvaluator(keep_nets=lambda job: job.trial_id != 8)
    hb = Hyperband(27, mode="halving")  # 9x3 -> 3x9 -> 1x27
    outcome = run_search(ListSearcher(), evaluator, scheduler=hb, n_trials=12,
                         seeds=np.random.RandomState(0))
    promoted = [job for job in evaluator.jobs if job.rung == 1]
    assert len(promoted) == 3
    assert 8 in {job.parent_id for job in promoted}  # the best of rung 0
    for job in promoted:
        if job.parent_id == 8:
            assert job.warm_nets is None and job.prior_segments == ()
            assert job.config["max_epochs"] == 9  # all of it, from scratch
            assert outcome.results[job.trial_id].segments == [(9, 9)]
        else:
            assert job.warm_nets == [f"net-{job.parent_id}"]
            assert job.config["max_epochs"] == 6


def test_run_search_with_an_exhausted_searcher_still_promotes():
    searcher = ListSearcher(limit=5)
    evaluator = FakeEvaluator()
    outcome = run_search(searcher, evaluator, scheduler=Hyperband(27, mode="halving"),
                         n_trials=50, seeds=np.random.RandomState(0))
    assert outcome.stop_reason == "exhausted"
    epochs = [r.config["max_epochs"] for r in outcome.results]
    assert epochs == [3] * 5 + [9] + [27]  # the best of 5 trains to the end
    assert outcome.results[-1].epochs == 27


def test_run_search_failures_in_hyperband_are_not_promoted():
    class Failing(FakeEvaluator):
        def __call__(self, job):
            result = super().__call__(job)
            if job.rung == 0 and job.config["id"] in (8, 5, 0):
                from dataclasses import replace
                return replace(result, status="failed", score=float("nan"),
                               nets=[], error="ValueError: boom")
            return result

    evaluator = Failing()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialFailedWarning)
        run_search(ListSearcher(), evaluator, scheduler=Hyperband(27, mode="halving"),
                   n_trials=12, seeds=np.random.RandomState(0))
    parents = {job.parent_id for job in evaluator.jobs if job.rung == 1}
    # 8 and 5 score best in rung 0, but failed
    assert len(parents) == 3 and not parents & {8, 5, 0}


# ---------------------------------------------------------------------- estimator
SMALL_NET = {"max_epochs": 9, "module__n_units": 32, "module__n_layers": 1,
             "batch_size": 32}


@pytest.fixture(scope="module")
def small_clf_data():
    return make_classification(n_samples=150, n_features=6, random_state=0)


# rung-0 epochs: the searcher's new configs start at 3; the portfolio's
# known-good configs run first at full fidelity (9)
@pytest.mark.parametrize("fidelity, rung0_epochs", [("hyperband", {3, 9}),
                                                    ("halving", {3, 9})])
def test_autodl_classifier_continues_promoted_trials(small_clf_data, fidelity,
                                                     rung0_epochs, one_torch_thread):
    X, y = small_clf_data
    # one holdout split: epochs_run counts the epochs of every fold
    clf = AutoDLClassifier(fidelity=fidelity, time_budget=None, n_trials=12,
                           search_space=SMALL_NET, verbose=0, random_state=0,
                           device="cpu", cv=None)
    clf.fit(X, y)
    cv = clf.cv_results_
    it, res, run = cv["iter"], cv["n_resources"], cv["epochs_run"]
    assert len(it) == 12 and it.max() >= 1
    assert set(res[it == 0]) == rung0_epochs
    assert set(res[it == 1]) == {9}
    lb = clf.leaderboard_.set_index("trial")
    promoted = np.flatnonzero(it > 0)
    for t in promoted:
        parent = lb.loc[t, "parent"]
        assert not math.isnan(parent)
        parent = int(parent)
        assert it[parent] == it[t] - 1
        assert res[parent] < res[t]  # n_resources grows with iter
        assert cv["params"][t] == {**cv["params"][parent], "max_epochs": res[t]}
        # continued, not restarted: only the missing epochs were run
        assert run[t] <= res[t] - res[parent] < res[t]
    assert (lb.loc[np.flatnonzero(it == 0), "parent"].isna()).all()
    pred = clf.predict(X)
    assert pred.shape == (150,) and set(pred) <= set(y)
    assert clf.score(X, y) > 0.6
