"""The search space: skopt dimensions, one subspace per network family.

skopt has no conditional dimensions, so the space is a set of subspaces,
one per family: a family's own parameters (``module__*``) exist only in its
subspace, and a config drawn from it only carries them when that family is
chosen. Training parameters (learning rate, weight decay, batch size,
epochs) are shared by every subspace.

A user's ``search_space`` dict overrides or extends it; each value may be

* a skopt dimension (``Real``, ``Integer``, ``Categorical``),
* a list of choices (becomes ``Categorical``),
* a ``(low, high)`` tuple (``Integer`` for two ints, ``Real`` otherwise),
* a single value, which fixes the parameter.
"""

from __future__ import annotations

import numbers

import numpy as np
from skopt.space import Categorical, Dimension, Integer, Real

from skautodl._compat import to_python

#: training hyperparameters shared by all families (skorch parameter names)
TRAINING_SPACE = {
    "lr": Real(1e-4, 1e-2, prior="log-uniform"),
    "optimizer__weight_decay": Real(1e-6, 1e-1, prior="log-uniform"),
    "batch_size": Categorical([32, 64, 128, 256]),
    "max_epochs": Integer(10, 120),
}

#: known-good values of the training hyperparameters
TRAINING_DEFAULTS = {
    "lr": 1e-3,
    "optimizer__weight_decay": 1e-4,
    "batch_size": 64,
    "max_epochs": 60,
}

#: prefixes under which parameters are routed: skorch's own, plus
#: ``featurize__`` (the tabular featurizer) and ``augment__`` (batch
#: augmentation, :class:`skautodl.data.augment.Augmentation`); a user may add
#: any of them
SKORCH_PREFIXES = (
    "module__", "optimizer__", "criterion__", "iterator_train__", "callbacks__",
    "featurize__", "augment__",
)
#: plain parameters a user may add or fix
SKORCH_PARAMS = ("lr", "max_epochs", "batch_size", "lr_schedule")

#: learning-rate schedules (one cycle per stretch of training)
LR_SCHEDULES = ("cosine", "onecycle")


def task_space(task):
    """Shared dimensions that depend on the task, with their defaults.

    Regularization, scaling and augmentation choices every family of the
    task shares: the learning-rate schedule (cosine or one-cycle), early
    stopping patience, label smoothing (classifiers), the numeric scaling
    of the tabular featurizer, and batch augmentation (mixup for tabular
    data; shifts, small rotations, cutout and mixup for images). Every
    default is "off" (or the foundation's setting), so the default config
    and the portfolio behave as before. Flips stay off: they change the
    meaning of digits and text; add ``"augment__flip": [False, True]`` to
    ``search_space`` for natural images.

    Parameters
    ----------
    task : TaskInfo or None
        ``None`` adds nothing (the foundation's space).

    Returns
    -------
    space, defaults : dict, dict
    """
    if task is None:
        return {}, {}
    space = {
        "lr_schedule": Categorical(list(LR_SCHEDULES)),
        "callbacks__early_stopping__patience": Integer(5, 30),
    }
    defaults = {"lr_schedule": "cosine", "callbacks__early_stopping__patience": 10}
    if task.is_classification:
        space["criterion__label_smoothing"] = Real(0.0, 0.2)
        defaults["criterion__label_smoothing"] = 0.0
    space["augment__mixup_alpha"] = Categorical([0.0, 0.2, 0.4])
    defaults["augment__mixup_alpha"] = 0.0
    if task.input_kind == "image":
        side = min(task.image_shape[-2:])
        space["augment__shift"] = Categorical(sorted({0, 1, max(1, side // 10)}))
        space["augment__rotation"] = Categorical([0.0, 10.0])
        space["augment__cutout"] = Categorical(sorted({0, max(1, side // 4)}))
        defaults |= {"augment__shift": 0, "augment__rotation": 0.0,
                     "augment__cutout": 0}
    else:
        space["featurize__numeric_scaling"] = Categorical(
            ["standard", "quantile", "robust"])
        defaults["featurize__numeric_scaling"] = "standard"
    return space, defaults


def _as_dimension(name, value):
    """Turn one ``search_space`` entry into a dimension, or None if fixed."""
    if isinstance(value, Dimension):
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError(
                f"search_space[{name!r}] is an empty list; give at least one choice."
            )
        return Categorical(value) if len(value) > 1 else None
    if isinstance(value, tuple):
        if len(value) != 2 or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
        ):
            raise ValueError(
                f"search_space[{name!r}] must be a (low, high) pair of numbers; "
                f"got {value!r}."
            )
        low, high = value
        if not low < high:
            raise ValueError(
                f"search_space[{name!r}] = {value!r} is an empty range: low must "
                "be smaller than high."
            )
        if all(isinstance(v, numbers.Integral) for v in value):
            return Integer(low, high)
        return Real(float(low), float(high))
    if value is None or isinstance(value, str | numbers.Number | bool):
        return None
    raise ValueError(
        f"search_space[{name!r}] has unsupported type {type(value).__name__}; use a "
        "skopt dimension, a list of choices, a (low, high) tuple or a fixed value."
    )


class SearchSpace:
    """Per-family subspaces of skopt dimensions plus fixed values.

    Parameters
    ----------
    subspaces : dict
        ``{family: {name: skopt.space.Dimension}}``.
    fixed : dict
        ``{family: {name: value}}``: parameters held constant.
    defaults : dict
        ``{family: {name: value}}``: a known-good point of each subspace.
    """

    def __init__(self, subspaces, fixed=None, defaults=None):
        self.subspaces = subspaces
        self.fixed = fixed or {f: {} for f in subspaces}
        self.defaults = defaults or {f: {} for f in subspaces}

    @property
    def families(self):
        return list(self.subspaces)

    def names(self, family):
        """Names of the searched dimensions of ``family``, in a fixed order."""
        return sorted(self.subspaces[family])

    def dimensions(self, family):
        return [self.subspaces[family][n] for n in self.names(family)]

    def to_config(self, family, point):
        """Config dict from a point (list of values in :meth:`names` order)."""
        config = {"family": family, **self.fixed[family]}
        for name, value in zip(self.names(family), point, strict=True):
            config[name] = to_python(value)
        return config

    def to_point(self, config):
        return [config[n] for n in self.names(config["family"])]

    def sample(self, family, rng):
        """Draw one config of ``family`` uniformly (per each dimension's prior)."""
        point = [d.rvs(n_samples=1, random_state=rng)[0]
                 for d in self.dimensions(family)]
        return self.to_config(family, point)

    def default_config(self, family):
        """The family's known-good point, moved inside any narrowed dimension."""
        point = []
        for name, dim in zip(self.names(family), self.dimensions(family), strict=True):
            value = self.defaults[family].get(name)
            if value is None or value not in dim:
                if isinstance(dim, Categorical):
                    value = dim.categories[0]
                elif dim.prior == "log-uniform":
                    value = float(np.sqrt(dim.low * dim.high))
                else:
                    value = (dim.low + dim.high) / 2
                    value = int(round(value)) if isinstance(dim, Integer) else value
            point.append(value)
        return self.to_config(family, point)

    @classmethod
    def build(cls, families, family_spaces, family_defaults, overrides=None,
              task=None):
        """Assemble the space for a task.

        Parameters
        ----------
        families : list of str
            Families to search.
        family_spaces : dict
            ``{family: {name: Dimension}}``: each family's own parameters; a
            plain value instead of a dimension fixes that parameter for the
            family (the user's ``search_space`` still wins).
        family_defaults : dict
            ``{family: {name: value}}``.
        overrides : dict, optional
            The user's ``search_space``.
        task : TaskInfo, optional
            Adds the task's shared dimensions (:func:`task_space`).
        """
        overrides = dict(overrides or {})
        shared, shared_defaults = task_space(task)
        shared = {**TRAINING_SPACE, **shared}
        if "family" in overrides:
            chosen = overrides.pop("family")
            chosen = chosen if isinstance(chosen, list | tuple) else [chosen]
            unknown = [f for f in chosen if f not in families]
            if unknown:
                raise ValueError(
                    f"search_space['family'] names {unknown}, which are not among "
                    f"the families searched for this task: {families}."
                )
            families = [f for f in families if f in chosen]
        known = set(shared)
        for f in families:
            known |= set(family_spaces[f])
        for name in overrides:
            if not isinstance(name, str):
                raise ValueError(
                    f"search_space keys must be parameter names (str); got {name!r}."
                )
            if name in known or name in SKORCH_PARAMS or name.startswith(
                SKORCH_PREFIXES
            ):
                continue
            close = [k for k in known if k.replace("__", "_") == name.replace("__", "_")
                     or k.split("__")[-1] == name]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"search_space has an unknown parameter {name!r}.{hint} Known "
                f"parameters: {sorted(known)}; new ones must use skorch's prefixes "
                f"{SKORCH_PREFIXES}."
            )
        subspaces, fixed, defaults = {}, {}, {}
        for f in families:
            own = family_spaces[f]
            dims = {**shared, **{k: v for k, v in own.items()
                                 if isinstance(v, Dimension)}}
            # a plain value in a family's space fixes a shared dimension
            # for that family (the embed family keeps mixup off)
            fix = {k: v for k, v in own.items() if not isinstance(v, Dimension)}
            for name in fix:
                dims.pop(name, None)
            for name, value in overrides.items():
                if name.startswith("module__") and name not in family_spaces[f] and (
                    name in known
                ):
                    continue  # another family's own parameter
                dim = _as_dimension(name, value)
                if dim is None:
                    dims.pop(name, None)
                    fix[name] = value[0] if isinstance(value, list) else value
                else:
                    dims[name] = dim
                    fix.pop(name, None)
            subspaces[f] = dims
            fixed[f] = fix
            defaults[f] = {**TRAINING_DEFAULTS, **shared_defaults,
                           **family_defaults[f]}
        return cls(subspaces, fixed, defaults)

    def describe(self):
        """Rows ``(family, name, dimension)`` for documentation and reports."""
        rows = []
        for f in self.families:
            for name in self.names(f):
                rows.append((f, name, self.subspaces[f][name]))
            for name, value in self.fixed[f].items():
                rows.append((f, name, value))
        return rows
