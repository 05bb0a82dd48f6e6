"""Tests of skautodl/controller.py: the search loop, driven by fake trials."""

import math
import time
import warnings

import numpy as np
import pytest

from skautodl.controller import run_search
from skautodl.exceptions import TrialFailedWarning
from skautodl.search.fidelity import FullFidelity
from skautodl.training.trial import TrialResult


class ListSearcher:
    """Proposes ``{"id": k}`` configs in order; records every ask and tell."""

    def __init__(self, limit=None):
        self.limit = limit
        self.asked = 0
        self.told = []

    def ask(self, n=1):
        if self.limit is not None:
            n = min(n, self.limit - self.asked)
        out = [{"family": "fake", "id": self.asked + i, "max_epochs": 3}
               for i in range(n)]
        self.asked += n
        return out

    def tell(self, configs, scores):
        self.told.extend(zip(configs, scores, strict=True))


class FakeEvaluator:
    """Scores a config by ``score(config)``; no training at all."""

    def __init__(self, score=lambda config: 0.1 * config.get("id", -1),
                 fail=lambda config: False, sleep=0.0):
        self.score = score
        self.fail = fail
        self.sleep = sleep
        self.jobs = []

    def __call__(self, job):
        self.jobs.append(job)
        if self.sleep:
            time.sleep(self.sleep)
        config = dict(job.config)
        if self.fail(config):
            return TrialResult(config=config, status="failed", score=float("nan"),
                               error="ValueError: bad config", trial_id=job.trial_id,
                               seed=job.seed)
        score = self.score(config)
        return TrialResult(config=config, status="ok", score=score,
                           split_scores=[score], epochs=3, epochs_run=3,
                           fit_time=0.01, nets=[f"net-{job.trial_id}"],
                           valid_predictions=[np.zeros(2)], trial_id=job.trial_id,
                           seed=job.seed)


def search(searcher=None, evaluator=None, **kwargs):
    kwargs.setdefault("seeds", np.random.RandomState(0))
    kwargs.setdefault("scheduler", FullFidelity())
    return run_search(searcher or ListSearcher(), evaluator or FakeEvaluator(),
                      **kwargs)


def test_stops_at_n_trials():
    searcher, evaluator = ListSearcher(), FakeEvaluator()
    outcome = search(searcher, evaluator, n_trials=5)
    assert len(outcome.results) == 5
    assert outcome.stop_reason == "n_trials"
    assert searcher.asked == 5
    assert [c["id"] for c, _ in searcher.told] == [0, 1, 2, 3, 4]
    assert [s for _, s in searcher.told] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert [r.trial_id for r in outcome.results] == [0, 1, 2, 3, 4]
    assert outcome.search_time >= 0


def test_stops_at_end_time():
    started = []

    class Clocked(FakeEvaluator):
        def __call__(self, job):
            started.append(time.time())
            return super().__call__(job)

    evaluator = Clocked(sleep=0.05)
    start = time.time()
    outcome = search(evaluator=evaluator, end_time=start + 0.3)
    assert outcome.stop_reason == "time_budget"
    assert len(outcome.results) >= 2
    # no trial starts after the end; every trial is handed the deadline
    assert all(t < start + 0.3 for t in started)
    assert all(job.deadline == pytest.approx(start + 0.3, abs=1e-6)
               for job in evaluator.jobs)


def test_end_time_in_the_past_runs_nothing():
    evaluator = FakeEvaluator()
    outcome = search(evaluator=evaluator, end_time=time.time() - 1, n_trials=10)
    assert outcome.results == [] and evaluator.jobs == []
    assert outcome.stop_reason == "time_budget"
    assert outcome.best is None


def test_reserve_moves_the_deadline_forward():
    evaluator = FakeEvaluator()
    end = time.time() + 100
    seen = []

    def reserve(best):
        seen.append(best.trial_id)
        return 30.0

    search(evaluator=evaluator, n_trials=3, end_time=end, reserve=reserve)
    deadlines = [job.deadline for job in evaluator.jobs]
    assert deadlines[0] == pytest.approx(end)  # no best result yet: no reserve
    assert deadlines[1] == pytest.approx(end - 30.0)
    assert deadlines[2] == pytest.approx(end - 30.0)
    assert seen == [0, 1]  # called with the best result so far


def test_reserve_larger_than_the_budget_stops_the_search():
    outcome = search(n_trials=10, end_time=time.time() + 60,
                     reserve=lambda best: 120.0)
    assert len(outcome.results) == 1
    assert outcome.stop_reason == "time_budget"


def test_portfolio_configs_come_first():
    searcher, evaluator = ListSearcher(), FakeEvaluator()
    portfolio = [{"family": "fake", "id": 100, "max_epochs": 3},
                 {"family": "fake", "id": 101, "max_epochs": 3}]
    outcome = search(searcher, evaluator, portfolio=portfolio, n_trials=4)
    assert [r.config["id"] for r in outcome.results] == [100, 101, 0, 1]
    assert searcher.asked == 2
    # the searcher learns from the portfolio too
    assert [c["id"] for c, _ in searcher.told] == [100, 101, 0, 1]
    assert portfolio[0] == {"family": "fake", "id": 100, "max_epochs": 3}


def test_portfolio_longer_than_n_trials():
    searcher = ListSearcher()
    portfolio = [{"family": "fake", "id": 100 + i, "max_epochs": 3} for i in range(3)]
    outcome = search(searcher, portfolio=portfolio, n_trials=2)
    assert [r.config["id"] for r in outcome.results] == [100, 101]
    assert searcher.asked == 0


def test_failed_trials_warn_and_the_search_goes_on():
    searcher = ListSearcher()
    evaluator = FakeEvaluator(fail=lambda config: config["id"] % 2 == 1)
    with pytest.warns(TrialFailedWarning, match="bad config") as record:
        outcome = search(searcher, evaluator, n_trials=5)
    assert len([w for w in record if w.category is TrialFailedWarning]) == 2
    assert [r.status for r in outcome.results] == ["ok", "failed", "ok", "failed",
                                                   "ok"]
    assert outcome.stop_reason == "n_trials"
    # failures are told as nan: the searcher never gets a made-up score
    told = [s for _, s in searcher.told]
    assert math.isnan(told[1]) and math.isnan(told[3])
    assert outcome.best.config["id"] == 4


def test_all_failed_trials_leave_no_best():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrialFailedWarning)
        outcome = search(evaluator=FakeEvaluator(fail=lambda c: True), n_trials=3)
    assert len(outcome.results) == 3
    assert outcome.best is None and outcome.best_index is None


def test_best_result_and_only_its_nets_are_kept():
    evaluator = FakeEvaluator(score=lambda c: [0.3, 0.9, 0.5, 0.9][c["id"]])
    outcome = search(evaluator=evaluator, n_trials=4)
    assert outcome.best_index == 1  # the first of two equal scores
    assert outcome.best.score == 0.9
    assert all(r.nets == [] and r.valid_predictions == [] for r in outcome.results)
    assert outcome.nets == {1: ["net-1"]}


def test_each_trial_gets_its_own_seed_from_the_root_rng():
    a = FakeEvaluator()
    search(evaluator=a, n_trials=4, seeds=np.random.RandomState(7))
    b = FakeEvaluator()
    search(evaluator=b, n_trials=4, seeds=np.random.RandomState(7))
    c = FakeEvaluator()
    search(evaluator=c, n_trials=4, seeds=np.random.RandomState(8))
    seeds = [job.seed for job in a.jobs]
    assert len(set(seeds)) == 4
    assert seeds == [job.seed for job in b.jobs]
    assert seeds != [job.seed for job in c.jobs]
    assert all(isinstance(s, int) for s in seeds)


def test_exhausted_searcher_ends_the_search():
    outcome = search(ListSearcher(limit=3), n_trials=10)
    assert len(outcome.results) == 3
    assert outcome.stop_reason == "exhausted"


def test_interrupt_keeps_finished_trials():
    def score(config):
        if config["id"] == 2:
            raise KeyboardInterrupt
        return 0.5

    outcome = search(evaluator=FakeEvaluator(score=score), n_trials=10)
    assert outcome.stop_reason == "interrupted"
    assert len(outcome.results) == 2
    assert outcome.best_index == 0


def test_verbose_zero_prints_nothing(capsys):
    search(n_trials=2, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_one_shows_progress(capsys):
    search(n_trials=2, verbose=1)
    assert "skautodl search" in capsys.readouterr().err


# ---------------------------------------------------------------------- budget
def test_budget_caps_the_refit_overrun():
    from skautodl.controller import BUDGET_GRACE_SECONDS, Budget

    assert BUDGET_GRACE_SECONDS == 5.0
    b = Budget(100, start=1000.0)
    assert b.end_time == 1100.0
    assert b.hard_end == 1100.0 + 10.0 + 5.0  # 10 % of the budget...
    b = Budget(3600, start=0.0)
    assert b.hard_end == 3600.0 + 30.0 + 5.0  # ...but at most 30 s
    none = Budget(None, start=0.0)
    assert none.end_time is None and none.hard_end is None
    assert none.left() == math.inf


def test_promotions_run_on_their_parents_device():
    from skautodl.search.fidelity import Hyperband

    class DeviceEvaluator(FakeEvaluator):
        def __call__(self, job):
            from dataclasses import replace

            result = super().__call__(job)
            return replace(result, device=job.device,
                           segments=[*job.prior_segments, (3, 3)])

    evaluator = DeviceEvaluator(score=lambda c: 0.1 * (c["id"] % 7))
    # 9 x 3 epochs, then the best 3 continue for 9: new trials alternate
    # between the GPUs, each promotion follows its parent
    outcome = search(evaluator=evaluator, scheduler=Hyperband(27), n_trials=12,
                     devices=["cuda:0", "cuda:1"])
    jobs = {job.trial_id: job for job in evaluator.jobs}
    promoted = [job for job in jobs.values() if job.parent_id is not None]
    assert len(promoted) == 3
    for job in promoted:
        assert job.warm_nets == [f"net-{job.parent_id}"]
        assert job.device == jobs[job.parent_id].device
    # the round-robin would have put at least one elsewhere
    assert any(job.device != ["cuda:0", "cuda:1"][job.trial_id % 2]
               for job in promoted)
    assert [r.origin for r in outcome.results].count("promotion") == 3


class _Optimizer:
    def __init__(self):
        self.state = {"exp_avg": 1}


class _Net:
    """A kept net with an optimizer state that release_training_state clears."""

    def __init__(self, trial_id):
        self.trial_id = trial_id
        self.optimizer_ = _Optimizer()


class NetEvaluator(FakeEvaluator):
    """Returns a _Net per trial; records whether a promotion's parent net
    still had its optimizer state when the promotion started."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.parent_had_state = {}

    def __call__(self, job):
        from dataclasses import replace

        if job.warm_nets is not None:
            state = job.warm_nets[0].optimizer_.state
            self.parent_had_state[job.trial_id] = bool(state)
        result = super().__call__(job)
        return replace(result, nets=[_Net(job.trial_id)],
                       segments=[*job.prior_segments, (3, 3)])


def test_kept_nets_that_never_train_again_lose_their_optimizer_state():
    # full fidelity: no trial is ever continued, so every kept net (the
    # ensemble's candidates) is released as soon as it is kept
    evaluator = NetEvaluator(score=lambda c: 0.1 * c["id"])
    outcome = search(evaluator=evaluator, n_trials=5, keep_nets=3)
    assert sorted(outcome.nets) == [2, 3, 4]
    assert all(not net.optimizer_.state for nets in outcome.nets.values()
               for net in nets)


def test_promoted_trials_continue_from_their_parents_optimizer_state():
    from skautodl.search.fidelity import Hyperband

    # 9 configs x 3 epochs, the best 3 continue for 9, the best of those for 27
    evaluator = NetEvaluator(score=lambda c: 0.1 * (c["id"] % 7))
    scheduler = Hyperband(27)
    outcome = search(evaluator=evaluator, scheduler=scheduler, n_trials=13,
                     keep_nets=20)
    assert len(evaluator.parent_had_state) == 4  # 3 + 1 promotions
    # no parent lost its optimizer moments before its promotion ran
    assert all(evaluator.parent_had_state.values())
    # at the end only the nets a running bracket may still continue keep them
    alive = scheduler.alive()
    for trial_id, nets in outcome.nets.items():
        assert bool(nets[0].optimizer_.state) == (trial_id in alive), trial_id
    assert any(not nets[0].optimizer_.state for nets in outcome.nets.values())
