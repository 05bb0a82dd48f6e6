"""Known-good configurations, evaluated before the searcher takes over.

Each family with a portfolio (``mlp``, ``embed`` and ``ensemble_mlp`` for
tables, ``cnn`` for images) has a short list of configurations that did well
across data sets. The tabular lists were chosen on the development suite
only (``benchmarks/devsuite.py``: iris, autompg, friedman2, friedman3, a
``make_classification`` set, hastie and a mixed-type regression), never on
the data sets the quality benchmark scores, by
``benchmarks/portfolio_selection.py`` (greedy over normalized validation
scores; the method, the command and the measurements:
``docs/benchmarks.md``, section "Portfolio selection"). Besides variations
of the family defaults, the candidates included reimplementations of two
published tuned defaults, in skautodl's own families: RealMLP-TD
(Holzmueller et al., NeurIPS 2024: robust scaling with smooth clipping,
parametric SELU/Mish, PBLD numeric embeddings, dropout 0.15, label
smoothing 0.1, batch 256) and TabM-D (Gorishniy et al., ICLR 2025: the
BatchEnsemble MLP with k=32, 3 x 512, dropout 0.1, lr 2e-3, weight decay
3e-4). An entry may set shared settings of the task's space
(``featurize__numeric_scaling``, ``criterion__label_smoothing``); where the
space has no such dimension (label smoothing for regression, or a value the
user narrowed away) the default config's value is used (:func:`adapt`).

The portfolio entries are the first trials of a search (run at full
fidelity: with ``fidelity`` set, for the fidelity's full epoch count) and
are told to the searcher like its own proposals, so a Bayesian searcher
starts from them instead of from random points. Each family's list starts
with the family defaults.

The portfolio never hides the searcher: with ``n_trials`` set it takes at
most half of the trials (rounded up), and ``SearchSpec(strategy,
portfolio=False)`` switches it off (:func:`portfolio_for`).
"""

from __future__ import annotations

import math

from skautodl._compat import to_python
from skautodl.search.space import in_dimension

# The tabular lists below are the output of
# ``benchmarks/portfolio_selection.py --max-rows 600 --seeds 1`` (2026-12-02);
# each comment gives the candidate's name and its mean normalized score over
# the 7 dev-suite data sets (1 = the best of all 31 candidates everywhere).

#: the MLP portfolio, the family defaults then the greedy picks (skorch keys)
MLP_PORTFOLIO = [
    # c00: the family defaults (mlp.DEFAULTS and space.TRAINING_DEFAULTS), 0.597
    {"module__n_layers": 2, "module__n_units": 256, "module__dropout": 0.1,
     "module__norm": "none", "module__activation": "relu", "lr": 1e-3,
     "optimizer__weight_decay": 1e-4, "batch_size": 64, "max_epochs": 60},
    # c04: 0.738, the greedy first pick
    {"module__n_layers": 2, "module__n_units": 128, "module__dropout": 0.0,
     "module__norm": "none", "module__activation": "silu", "lr": 3e-3,
     "optimizer__weight_decay": 1e-5, "batch_size": 32, "max_epochs": 40},
    # c05: 0.657, best on friedman3 and mixed_dev among the MLPs
    {"module__n_layers": 3, "module__n_units": 512, "module__dropout": 0.2,
     "module__norm": "layer", "module__activation": "silu", "lr": 5e-4,
     "optimizer__weight_decay": 1e-3, "batch_size": 128, "max_epochs": 100},
    # r04: 0.672, RealMLP-TD-like (parametric Mish, robust scaling with
    # smooth clipping, label smoothing for classifiers), best on autompg
    {"module__n_layers": 3, "module__n_units": 256, "module__dropout": 0.15,
     "module__norm": "none", "module__activation": "pmish", "lr": 1e-3,
     "optimizer__weight_decay": 1e-2, "batch_size": 256, "max_epochs": 100,
     "featurize__numeric_scaling": "robust", "criterion__label_smoothing": 0.1},
    # c09: 0.644, best on classif
    {"module__n_layers": 2, "module__n_units": 256, "module__dropout": 0.3,
     "module__norm": "none", "module__activation": "gelu", "lr": 1e-3,
     "optimizer__weight_decay": 1e-2, "batch_size": 64, "max_epochs": 100},
]

#: the embed family's portfolio, the family defaults then the greedy picks
EMBED_PORTFOLIO = [
    # e00: the family defaults (embed.DEFAULTS and space.TRAINING_DEFAULTS),
    # 0.902, also the greedy first pick
    {"module__numeric_embedding": "periodic", "module__d_embedding": 16,
     "module__n_frequencies": 16, "module__frequency_scale": 0.1,
     "module__trunk": "mlp", "module__n_layers": 2, "module__n_units": 256,
     "module__dropout": 0.1, "module__norm": "none", "module__activation": "relu",
     "lr": 1e-3, "optimizer__weight_decay": 1e-4, "batch_size": 64,
     "max_epochs": 60},
    # e05: 0.827, RealMLP-TD-like (PBLD embeddings, parametric Mish, robust
    # scaling with smooth clipping, label smoothing for classifiers)
    {"module__numeric_embedding": "pbld", "module__d_embedding": 4,
     "module__n_frequencies": 16, "module__frequency_scale": 0.1,
     "module__trunk": "mlp", "module__n_layers": 3, "module__n_units": 256,
     "module__dropout": 0.15, "module__norm": "none", "module__activation": "pmish",
     "lr": 2.5e-3, "optimizer__weight_decay": 1e-6, "batch_size": 256,
     "max_epochs": 100, "featurize__numeric_scaling": "robust",
     "criterion__label_smoothing": 0.1},
    # e03: 0.712, quantile scaling, best on mixed_dev
    {"module__numeric_embedding": "periodic", "module__d_embedding": 16,
     "module__n_frequencies": 32, "module__frequency_scale": 0.3,
     "module__trunk": "mlp", "module__n_layers": 2, "module__n_units": 128,
     "module__dropout": 0.2, "module__norm": "none", "module__activation": "silu",
     "lr": 2e-3, "optimizer__weight_decay": 1e-3, "batch_size": 128,
     "max_epochs": 80, "featurize__numeric_scaling": "quantile"},
    # e02: 0.740, the ResNet trunk
    {"module__numeric_embedding": "periodic", "module__d_embedding": 8,
     "module__n_frequencies": 16, "module__frequency_scale": 0.1,
     "module__trunk": "resnet", "module__n_layers": 2, "module__n_units": 128,
     "module__dropout": 0.1, "module__norm": "batch", "module__activation": "relu",
     "lr": 1e-3, "optimizer__weight_decay": 1e-4, "batch_size": 128,
     "max_epochs": 60},
]

#: the ensemble MLP's portfolio, the family defaults then the greedy picks
ENSEMBLE_MLP_PORTFOLIO = [
    # m00: the family defaults (ensemble_mlp.DEFAULTS, TRAINING_DEFAULTS), 0.687
    {"module__k": 8, "module__n_layers": 2, "module__n_units": 256,
     "module__dropout": 0.1, "module__activation": "relu", "lr": 1e-3,
     "optimizer__weight_decay": 1e-4, "batch_size": 64, "max_epochs": 60},
    # m01: 0.916, TabM-D-like (TabM's defaults, quantile scaling), the
    # greedy first pick and the best of all candidates; by far the costliest
    # per trial on a CPU (k=32 members of 3 x 512: up to 234 s on 480 rows)
    {"module__k": 32, "module__n_layers": 3, "module__n_units": 512,
     "module__dropout": 0.1, "module__activation": "relu", "lr": 2e-3,
     "optimizer__weight_decay": 3e-4, "batch_size": 256, "max_epochs": 100,
     "featurize__numeric_scaling": "quantile"},
    # m03: 0.764
    {"module__k": 8, "module__n_layers": 3, "module__n_units": 256,
     "module__dropout": 0.2, "module__activation": "silu", "lr": 1e-3,
     "optimizer__weight_decay": 1e-3, "batch_size": 128, "max_epochs": 80},
]

#: the CNN portfolio for images, chosen on generated development images
#: (docs/benchmarks.md, "The CNN portfolio"; benchmarks/cnn_portfolio_selection.py):
#: the family defaults, then the greedy picks, then by mean normalized score;
#: ``module__stem`` is dropped for images under 16 pixels (not in the space),
#: and ``max_epochs`` applies only without fidelity (with it, the portfolio
#: trains for the fidelity's full epoch count, with early stopping)
CNN_PORTFOLIO = [
    # k00: the family defaults (cnn.DEFAULTS and space.TRAINING_DEFAULTS)
    {"module__n_stages": 3, "module__width": 16, "module__kernel_size": 3,
     "module__pooling": "max", "module__dropout": 0.1, "module__stem": "pool",
     "lr": 1e-3, "optimizer__weight_decay": 1e-4, "batch_size": 64, "max_epochs": 60},
    # k08: mean 0.973 (normalized over 12 candidates), the greedy first pick:
    # best on shapes28 and textures; two stages of 32 channels, avg pooling
    {"module__n_stages": 2, "module__width": 32, "module__kernel_size": 3,
     "module__pooling": "avg", "module__dropout": 0.1, "module__stem": "pool",
     "lr": 2e-3, "optimizer__weight_decay": 1e-4, "batch_size": 64, "max_epochs": 60},
    # k10: mean 0.916, the greedy second pick: best on shapes; 32 channels,
    # strong weight decay, label smoothing and 1-pixel shifts
    {"module__n_stages": 3, "module__width": 32, "module__kernel_size": 3,
     "module__pooling": "max", "module__dropout": 0.2, "module__stem": "pool",
     "lr": 1e-3, "optimizer__weight_decay": 1e-2, "batch_size": 64, "max_epochs": 60,
     "criterion__label_smoothing": 0.1, "augment__shift": 1},
    # k03: mean 0.904, next by mean (the greedy construction stopped at 1.0):
    # wide and regularized, the slowest per epoch on a CPU (GPU not measured)
    {"module__n_stages": 3, "module__width": 64, "module__kernel_size": 3,
     "module__pooling": "max", "module__dropout": 0.2, "module__stem": "pool",
     "lr": 1e-3, "optimizer__weight_decay": 5e-4, "batch_size": 128, "max_epochs": 80,
     "augment__shift": 1, "augment__mixup_alpha": 0.2},
]

#: portfolio entries per family; a family without one gets its defaults only
PORTFOLIOS = {"mlp": MLP_PORTFOLIO, "embed": EMBED_PORTFOLIO,
              "ensemble_mlp": ENSEMBLE_MLP_PORTFOLIO, "cnn": CNN_PORTFOLIO}


def adapt(space, family, entry):
    """Adapt a portfolio entry to a valid config of ``family`` in ``space``.

    Starts from ``space.default_config(family)`` (fixed values, and every
    dimension's default moved inside narrowed ranges) and takes each searched
    value of ``entry`` that lies inside its dimension. Values the user fixed
    win, values outside a narrowed dimension fall back to the default
    config's value there, and keys that are not parameters of the space are
    dropped.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The task's search space (the user's ``search_space`` applied).
    family : str
        The family of the entry.
    entry : dict
        A portfolio entry (skorch parameter names).

    Returns
    -------
    dict
        A config of ``space`` (with ``"family"``).
    """
    config = space.default_config(family)
    for name, dim in zip(space.names(family), space.dimensions(family),
                         strict=True):
        if name in entry and in_dimension(entry[name], dim):
            config[name] = to_python(entry[name])
    return config


def family_portfolio(space, family, size=None):
    """List the portfolio configs of one family, its default config first.

    Entries that coincide once adapted to a narrowed space appear once.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The task's search space (the user's ``search_space`` applied).
    family : str
        One of the space's families.
    size : int or None, default=None
        The most configs returned; None: all of them.

    Returns
    -------
    list of dict
        Configs of ``space``.
    """
    configs = [space.default_config(family)]
    for entry in PORTFOLIOS.get(family, ()):
        config = adapt(space, family, entry)
        if config not in configs:
            configs.append(config)
    return configs if size is None else configs[:size]


def portfolio(space, size=None):
    """List the configs to try first, for every family of ``space``.

    The families' lists are interleaved: every family's default config comes
    first (in ``space.families`` order), then every family's second config,
    and so on. ``size`` caps the configs per family (``size=1``: the
    defaults only).

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The task's search space (the user's ``search_space`` applied).
    size : int or None, default=None
        The most configs per family; None: all of them.

    Returns
    -------
    list of dict
        The interleaved configs.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.validation import detect_task
    >>> from skautodl.networks.registry import FAMILIES
    >>> from skautodl.search.portfolio import portfolio
    >>> from skautodl.search.space import SearchSpace
    >>> task = detect_task(np.array([0, 1] * 10), classifier=True, n_classes=2)
    >>> space = SearchSpace.for_task([FAMILIES["mlp"], FAMILIES["embed"]], task)
    >>> [c["family"] for c in portfolio(space)]
    ['mlp', 'embed', 'mlp', 'embed', 'mlp', 'embed', 'mlp', 'embed', 'mlp']
    """
    per_family = [family_portfolio(space, f, size) for f in space.families]
    out = []
    for rank in range(max((len(c) for c in per_family), default=0)):
        out.extend(c[rank] for c in per_family if rank < len(c))
    return out


def portfolio_for(search, space, n_trials=None):
    """The portfolio a search with these settings runs first.

    Parameters
    ----------
    search : str, SearchSpec or searcher object
        The estimator's ``search``; a ``SearchSpec`` with
        ``portfolio=False`` gets none.
    space : skautodl.search.space.SearchSpace
        The task's search space.
    n_trials : int or None, default=None
        With a trial count, the portfolio takes at most ``ceil(n_trials /
        2)`` of the trials, so the searcher proposes the other half.

    Returns
    -------
    list of dict
        The configs, in the order they run.
    """
    if getattr(search, "portfolio", True) is False:
        return []
    configs = portfolio(space)
    if n_trials is not None:
        configs = configs[:math.ceil(n_trials / 2)]
    return configs


#: earlier configurations a warm-started search runs first (its best ones)
WARM_START_CONFIGS = 3


def warm_configs(history, space):
    """An earlier search's finished configs that fit ``space``, best first.

    Parameters
    ----------
    history : list of (dict, float)
        ``(config, validation score)`` of the earlier search's trials
        (failed ones, with a non-finite score, are skipped).
    space : SearchSpace
        The new search's space. A config whose family is not searched, that
        lacks one of the family's dimensions or whose value lies outside it
        (the user narrowed the space since) is left out; the others are
        rebuilt through the space (its fixed values are the new ones).

    Returns
    -------
    list of (dict, float)
        Deduplicated (the best score of a repeated config), best first; ties
        keep the earlier trial first.
    """
    best = {}
    for order, (config, score) in enumerate(history):
        if score is None or not math.isfinite(float(score)):
            continue
        family = config.get("family")
        if family not in space.subspaces:
            continue
        names = space.names(family)
        if not all(n in config and in_dimension(to_python(config[n]),
                                                space.subspaces[family][n])
                   for n in names):
            continue
        rebuilt = space.to_config(family, [to_python(config[n]) for n in names])
        key = repr(sorted(rebuilt.items()))
        if key not in best or float(score) > best[key][1]:
            best[key] = (rebuilt, float(score), best.get(key, (None, None, order))[2])
    ranked = sorted(best.values(), key=lambda item: (-item[1], item[2]))
    return [(config, score) for config, score, _ in ranked]


def warm_portfolio(warm, default, n_trials=None, size=WARM_START_CONFIGS):
    """Build the portfolio of a warm-started search.

    The ``size`` best earlier configs, then the default portfolio without
    repeats, capped at half of ``n_trials`` (rounded up) as
    :func:`portfolio_for` caps it.

    Parameters
    ----------
    warm : list of (dict, float)
        The earlier search's configs and scores, best first
        (:func:`warm_configs`).
    default : list of dict
        The portfolio the search would run otherwise.
    n_trials : int or None, default=None
        The estimator's ``n_trials``.
    size : int, default=WARM_START_CONFIGS
        The most earlier configs run first (3).

    Returns
    -------
    list of dict
        The configs, in the order they run.
    """
    configs = [dict(c) for c, _ in warm[:size]]
    seen = {repr(sorted(c.items())) for c in configs}
    configs += [c for c in default if repr(sorted(c.items())) not in seen]
    if n_trials is not None:
        configs = configs[:math.ceil(n_trials / 2)]
    return configs
