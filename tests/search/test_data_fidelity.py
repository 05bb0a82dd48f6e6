"""Data-size fidelity: Hyperband rungs on stratified subsamples of the rows.

Scheduler tests use made-up results (no training); the estimator tests
force the fidelity on small data (``fidelity="hyperband-rows"``) and check
the automatic size rule with a lowered threshold.
"""

import json
import math
import warnings

import numpy as np
import pytest
import test_fidelity
from sklearn.datasets import make_classification
from test_fidelity import Asker, Driver, FakeEvaluator, ListSearcher

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.controller import run_search
from skautodl.controller.loop import _fit_in_time
from skautodl.data.featurize import prepare_splits
from skautodl.data.splits import make_splits, nested_order
from skautodl.data.validation import TaskInfo
from skautodl.search import fidelity
from skautodl.search.fidelity import Hyperband, make_scheduler, use_rows
from skautodl.training import refit
from skautodl.training.trial import TrialResult, run_trial

#: test_fidelity's fixture: tiny nets train fastest on one torch thread
one_torch_thread = test_fidelity.one_torch_thread


# ---------------------------------------------------------------------- order
@pytest.mark.parametrize("classification", [True, False])
def test_nested_order_makes_every_prefix_a_stratified_sample(classification):
    rng = np.random.RandomState(0)
    n = 3000
    y = (rng.choice(3, n, p=[0.6, 0.3, 0.1]) if classification
         else rng.exponential(size=n))
    train = rng.permutation(n)[:2400]
    order = nested_order(train, y, classification=classification, seed=0)
    assert sorted(order) == sorted(train)  # a permutation of the rows
    strata = (y if classification else
              np.searchsorted(np.quantile(y[train], np.linspace(0, 1, 11)[1:-1]), y,
                              side="right"))
    share = np.bincount(strata[train]) / len(train)
    for k in (30, 100, 333, 1000):
        counts = np.bincount(strata[order[:k]], minlength=len(share))
        # each class (or target decile) within one row of its share
        assert np.all(np.abs(counts - share * k) <= 1.0 + 1e-9), (k, counts)
    # seeded: the same order again, another for another seed
    np.testing.assert_array_equal(
        order, nested_order(train, y, classification=classification, seed=0))
    assert not np.array_equal(
        order, nested_order(train, y, classification=classification, seed=1))


def test_a_random_prefix_would_not_be_stratified():
    # what the test above guards against: a plain shuffle's prefixes drift
    rng = np.random.RandomState(0)
    y = rng.choice(3, 3000, p=[0.6, 0.3, 0.1])
    worst = max(np.abs(np.bincount(y[rng.permutation(3000)[:333]], minlength=3)
                       - np.bincount(y, minlength=3) / 3000 * 333).max()
                for _ in range(20))
    assert worst > 1.0


# ---------------------------------------------------------------------- rule
def test_size_rule_and_forcing():
    assert not use_rows("hyperband", fidelity.AUTO_ROWS - 1)
    assert use_rows("hyperband", fidelity.AUTO_ROWS)
    assert use_rows("halving", 10 ** 6)
    assert use_rows("hyperband-rows", 100) and use_rows("halving-rows", 100)
    assert not use_rows("hyperband-epochs", 10 ** 6)
    assert not use_rows(None, 10 ** 6)
    assert make_scheduler("hyperband", 81, 10 ** 6).rows == (10 ** 6, fidelity.MIN_ROWS)
    assert make_scheduler("hyperband-epochs", 81, 10 ** 6).rows is None
    # forced on small data: the smallest rung holds a ninth of the rows
    assert make_scheduler("halving-rows", 81, 900).rows == (900, 100)
    assert make_scheduler("halving-rows", 81, 900).mode == "halving"
    # from the size rule's threshold on, never below MIN_ROWS
    assert make_scheduler("hyperband", 81, 80_000).rows == (80_000, fidelity.MIN_ROWS)
    assert make_scheduler(None, 81, 10 ** 6).rows is None
    with pytest.raises(ValueError, match="fidelity must be one of"):
        make_scheduler("rows", 81, 1000)


def test_rung_fractions_grow_by_eta_to_all_rows():
    hb = Hyperband(81, min_epochs=3, rows=(400_000, 10_000))  # s_max = 3
    assert [hb.fraction(i, 3) for i in range(4)] == pytest.approx(
        [1 / 27, 1 / 9, 1 / 3, 1.0])
    assert [hb.fraction(i, 1) for i in range(2)] == pytest.approx([1 / 3, 1.0])
    # never below min_rows
    small = Hyperband(81, min_epochs=3, rows=(100_000, 10_000))
    assert small.fraction(0, 3) == pytest.approx(0.1)
    assert Hyperband(81).fraction(0, 3) == 1.0  # no data-size fidelity

    driver = Driver(Hyperband(27, mode="halving", rows=(900, 50)))  # 9x3, 3x9, 1x27
    driver.run(13)
    got = [(p.rung, round(p.fraction, 4)) for p in driver.proposals]
    assert got == [(0, round(1 / 9, 4))] * 9 + [(1, round(1 / 3, 4))] * 3 + [(2, 1.0)]


def test_portfolio_configs_open_the_first_bracket_on_its_cheapest_rung():
    hb = Hyperband(27, mode="halving", rows=(900, 50))
    hb.run_first([(0, {"family": "fake", "id": 100}),
                  (1, {"family": "fake", "id": 101})])
    props = hb.propose(4, Asker())
    assert [p.portfolio_index for p in props] == [0, 1, None, None]
    assert [p.base_config["id"] for p in props] == [100, 101, 0, 1]
    assert all(p.rung == 0 and p.fraction == pytest.approx(1 / 9) and p.scheduled
               for p in props)


def test_rung_zero_closes_when_its_share_of_the_time_is_spent(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(fidelity.time, "time", lambda: now[0])
    hb = Hyperband(27, mode="halving", rows=(900, 50))  # 9x3, 3x9, 1x27
    hb.set_deadline(1030.0)  # rung 0: 15 s; rung 1 ends at 1022.5 s, rung 2 at 1030
    driver = Driver(hb)
    driver.step(1)
    for _ in range(3):
        now[0] += 2.0
        driver.step(1)
    assert [p.rung for p in driver.proposals] == [0] * 4
    now[0] = 1016.0  # rung 0's time is over: rank the 4, promote the best
    (promotion,) = driver.step(1)
    best = max(range(4), key=lambda t: driver.results[t].score)
    assert promotion.parent_id == best
    # one config promoted: straight to the top rung, all rows, all time left
    assert promotion.rung == 2 and promotion.fraction == 1.0
    assert promotion.epochs == 27 - 3 and promotion.seconds == pytest.approx(14.0)

    # 9 configs in time: the top 3 go to rung 1, which ends at 1022.5 s
    now[0] = 1000.0
    hb = Hyperband(27, mode="halving", rows=(900, 50))
    hb.set_deadline(1030.0)
    driver = Driver(hb)
    driver.run(9)
    now[0] = 1010.0
    batch = driver.propose(3)
    assert [p.rung for _, p in batch] == [1, 1, 1]
    assert [p.fraction for _, p in batch] == pytest.approx([1 / 3] * 3)
    # each its share of what is left of rung 1, the last all of it
    assert [p.seconds for _, p in batch] == pytest.approx([12.5 / 3, 12.5 / 2, 12.5])

    # without a deadline the rung runs its whole plan
    plain = Driver(Hyperband(27, mode="halving", rows=(900, 50)))
    plain.run(12)
    assert [p.rung for p in plain.proposals] == [0] * 9 + [1] * 3


def test_fit_in_time_fits_the_schedule_to_the_time_left():
    config = {"family": "mlp", "id": 1}

    def result(rows, seconds_per_epoch, epochs=4, valid_seconds=0.0, cfg=config):
        return TrialResult(config={**cfg, "max_epochs": epochs}, status="ok",
                           score=0.5, split_scores=[0.5], epochs_run=epochs,
                           fit_time=seconds_per_epoch * epochs, rows=rows,
                           valid_seconds=valid_seconds)

    # 0.5 s per epoch of overhead + 5 ms per row: 10.5 s per epoch on 2,000 rows
    results = [result(100, 1.0), result(1000, 5.5)]

    def fit(epochs, seconds, res=results):
        return _fit_in_time(res, config, epochs, 1.0, 2000, 10, seconds)

    assert fit(20, 50.0) == (4, 1.0)  # 0.9 * 50 / 10.5 epochs
    assert fit(3, 50.0) == (3, 1.0)  # fits: unchanged
    assert fit(20, 15.0) == (1, 1.0)  # one epoch on all rows fits
    # not even one epoch on all rows: one epoch on the rows that fit
    epochs, fraction = fit(20, 5.0)
    assert epochs == 1
    assert fraction * 2000 == pytest.approx((0.9 * 5 - 0.5) / 0.005)
    # a new config is not squeezed: it runs its rung's epochs or not at all
    assert _fit_in_time(results, config, 20, 1.0, 2000, 10, 10.0, new=True) == (0, 1.0)
    assert _fit_in_time(results, config, 20, 1.0, 2000, 10, 40.0, new=True) == (3, 1.0)
    # one epoch on the smallest rung fits only at the deadline: as planned
    assert fit(20, 0.58) == (1, 1.0)
    assert fit(20, 0.5) == (0, 1.0)  # not one epoch of 10 rows: not started
    # other configs' costs are used only when this one has none
    slow = {"family": "embed", "id": 2}
    mixed = results + [result(100, 50.0, cfg=slow), result(1000, 500.0, cfg=slow)]
    assert fit(20, 50.0, mixed) == (4, 1.0)
    # one training size: the validation pass is the per-epoch overhead
    one = [result(100, 1.0, valid_seconds=0.2)]
    assert _fit_in_time(one, config, 50, 1.0, 1000, 10, 100.0) == (10, 1.0)
    assert fit(50, 1.0, []) == (50, 1.0)  # nothing measured yet


def test_run_search_trains_each_rung_on_its_share_of_rows():
    evaluator = FakeEvaluator()
    searcher = ListSearcher()
    portfolio = [{"family": "fake", "id": 500, "max_epochs": 27}]
    hb = Hyperband(27, mode="halving", rows=(900, 50))
    outcome = run_search(searcher, evaluator, scheduler=hb, portfolio=portfolio,
                         n_trials=13, seeds=np.random.RandomState(0))
    jobs = evaluator.jobs
    assert [round(j.fraction, 4) for j in jobs] == \
        [round(1 / 9, 4)] * 9 + [round(1 / 3, 4)] * 3 + [1.0]
    # the portfolio config ran first, on rung 0, as a config the scheduler ranks
    assert jobs[0].config["id"] == 500 and jobs[0].origin == "portfolio"
    assert jobs[0].config["max_epochs"] == 3
    assert [r.origin for r in outcome.results[:2]] == ["portfolio", "searcher"]
    # promotions continue their parents (more rows and epochs)
    for job in jobs[9:]:
        parent = evaluator.jobs[job.parent_id]
        assert job.fraction > parent.fraction
        assert job.warm_nets == [f"net-{job.parent_id}"]


# ---------------------------------------------------------------------- trial
def test_run_trial_trains_on_the_first_rows_and_validates_on_all(one_torch_thread):
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    splits = make_splits(X, y, cv=None, validation_fraction=0.25,
                         classification=True, seed=0)
    splits = [(nested_order(tr, y, classification=True, seed=0), va)
              for tr, va in splits]
    data = prepare_splits(X, y, y, splits)
    task = TaskInfo(kind="binary", n_outputs=2,
                    n_samples=300)
    config = {"family": "mlp", "max_epochs": 2, "batch_size": 20,
              "module__n_units": 8, "module__n_layers": 1}

    def scorer(net, X_, y_):
        return float(np.mean(net.predict(X_) == y_))

    small = run_trial(config, data, task, scorer=scorer, classes=np.array([0, 1]),
                      seed=0, fraction=0.2)
    full = run_trial(config, data, task, scorer=scorer, classes=np.array([0, 1]),
                     seed=0)
    n_train = len(data[0].X_train)
    assert small.rows == math.ceil(0.2 * n_train) and full.rows == n_train
    assert small.segments == [(small.segments[0][0], 2, 0.2)]
    assert full.segments == [(full.segments[0][0], 2)]

    def train_batches(result):
        return sum(1 for b in result.nets[0].history[-1]["batches"]
                   if "train_loss" in b)

    assert train_batches(small) == math.ceil(small.rows / 20)
    assert train_batches(full) == math.ceil(n_train / 20)
    # validation on the whole validation split either way
    assert len(small.valid_predictions[0]) == len(data[0].X_valid)


def test_refit_replays_each_stretch_on_its_share_of_all_rows(monkeypatch):
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    task = TaskInfo(kind="binary", n_outputs=2,
                    n_samples=300)
    seen = []
    real = refit.train_segment

    def spy(net, X_, y_, **kw):
        seen.append((len(X_), np.bincount(y_, minlength=2)))
        return real(net, X_, y_, **kw)

    monkeypatch.setattr(refit, "train_segment", spy)
    best = TrialResult(config={"family": "mlp", "batch_size": 32,
                               "module__n_units": 8, "module__n_layers": 1},
                       status="ok", score=0.9, epochs=4,
                       segments=[(1, 1, 1 / 9), (1, 3, 1 / 3), (2, 9)], seed=0)
    pipe, cut = refit._replay(best, X, y, task, classes=np.array([0, 1]),
                              device="cpu", hard_end=None, verbose=0)
    assert not cut and pipe.predict(X).shape == (300,)
    assert [n for n, _ in seen] == [34, 100, 300]
    for n, counts in seen:  # stratified: both classes in their share
        assert abs(counts[1] - n * np.mean(y)) <= 1.0


# ---------------------------------------------------------------------- estimator
SMALL = {"max_epochs": 27, "module__n_units": 16, "module__n_layers": 1,
         "batch_size": 32}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=900, n_features=6, n_informative=4,
                               random_state=0)


def _board(est):
    return est.leaderboard_.set_index("trial").sort_index()


def test_forced_data_size_fidelity_climbs_from_subsamples_to_all_rows(
        data, one_torch_thread):
    X, y = data
    clf = AutoDLClassifier(fidelity="halving-rows", time_budget=None, n_trials=13,
                           search_space=SMALL, verbose=0, random_state=0,
                           device="cpu", cv=None, families=["mlp"])
    clf.fit(X, y)
    board = _board(clf)
    n_train = 720
    # 9 configs on 80 rows (a ninth), 3 on 240, the best on all 720
    assert board["rows"].tolist() == [80] * 9 + [240] * 3 + [720]
    assert board["rung"].tolist() == [0] * 9 + [1] * 3 + [2]
    assert (board["origin"].iloc[:9] == "portfolio").sum() >= 1
    for trial in board.index[9:]:
        parent = int(board.loc[trial, "parent"])
        assert board.loc[trial, "rows"] > board.loc[parent, "rows"]
    assert board["rows"].max() == n_train
    assert clf.score(X, y) > 0.7
    # the same seed gives the same search and predictions
    again = AutoDLClassifier(**clf.get_params()).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X))


def test_data_size_fidelity_switches_on_by_size(data, monkeypatch, one_torch_thread):
    X, y = data
    monkeypatch.setattr(fidelity, "AUTO_ROWS", 500)  # 720 training rows
    monkeypatch.setattr(fidelity, "MIN_ROWS", 100)
    params = {"time_budget": None, "n_trials": 5, "search_space": SMALL,
              "verbose": 0, "random_state": 0, "device": "cpu", "cv": None,
              "families": ["mlp"]}
    auto = AutoDLClassifier(fidelity="hyperband", **params).fit(X, y)
    assert _board(auto)["rows"].min() < 720
    off = AutoDLClassifier(fidelity="hyperband-epochs", **params).fit(X, y)
    assert set(_board(off)["rows"]) == {720}
    monkeypatch.setattr(fidelity, "AUTO_ROWS", 10_000)
    small = AutoDLClassifier(fidelity="hyperband", **params).fit(X, y)
    assert set(_board(small)["rows"]) == {720}


def test_regression_with_data_size_fidelity_resumes_from_its_checkpoint(
        tmp_path, one_torch_thread):
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=600, n_features=5, noise=5.0, random_state=0)
    params = {"fidelity": "halving-rows", "time_budget": None,
              "search_space": SMALL, "verbose": 0, "random_state": 0,
              "device": "cpu", "cv": None, "families": ["mlp"],
              "checkpoint_dir": tmp_path}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        AutoDLRegressor(n_trials=10, **params).fit(X, y)
        state = json.loads((tmp_path / "search_state.json").read_text())
        promoted = [r for r in state["results"] if r["rung"] == 1]
        assert promoted and all(len(s) == 3 for r in promoted for s in r["segments"])
        resumed = AutoDLRegressor(n_trials=13, **params).fit(X, y)
    assert resumed.n_trials_ == 13
    board = _board(resumed)
    assert board["rows"].iloc[-1] == 480 and board["rung"].iloc[-1] == 2
    assert resumed.score(X, y) > 0.5
