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

import math
import numbers
from dataclasses import dataclass

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

#: known-good values of the training settings: the one source of the
#: defaults of a config that leaves a setting out (the trial nets, the
#: fidelity schedule and the space's default point all read it)
TRAINING_DEFAULTS = {
    "lr": 1e-3,
    "optimizer__weight_decay": 1e-4,
    "batch_size": 64,
    "max_epochs": 60,
    "lr_schedule": "cosine",
    "callbacks__early_stopping__patience": 10,
}

#: the coarse grid of the training settings that ``search="grid"`` runs on
#: the default space (with each family's own ``GRID``); every other
#: dimension stays at its default
TRAINING_GRID = {
    "lr": [1e-3, 3e-3],
    "optimizer__weight_decay": [1e-4, 1e-2],
}

@dataclass(frozen=True)
class Bound:
    """The values a numeric parameter may take: an interval, maybe of ints.

    Checked for every searched dimension and fixed value before the first
    trial, so a setting that cannot train (``max_epochs=0``, a negative
    batch size, ``module__n_units=0``) fails at once, naming itself.

    Parameters
    ----------
    low : float or None, default=None
        The lower end; None: unbounded below.
    high : float or None, default=None
        The upper end; None: unbounded above.
    integer : bool, default=False
        Only whole numbers.
    low_open : bool, default=False
        Exclude ``low`` itself.
    high_open : bool, default=False
        Exclude ``high`` itself.

    Examples
    --------
    >>> from skautodl.search.space import Bound
    >>> dropout = Bound(0, 1, high_open=True)
    >>> 0.5 in dropout, 1.0 in dropout, dropout.describe()
    (True, False, 'a number >= 0 and < 1')
    """

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if not math.isfinite(value):
            return False
        if self.integer and float(value) != int(value):
            return False
        if self.low is not None and (value < self.low
                                     or self.low_open and value == self.low):
            return False
        return self.high is None or not (value > self.high
                                         or self.high_open and value == self.high)

    def describe(self):
        """Describe the bound in words, for error messages.

        Returns
        -------
        str
            For example ``"an int >= 1"``.
        """
        kind = "an int" if self.integer else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return f"{kind} {' and '.join(parts)}".strip()


#: the values the training settings may take
TRAINING_BOUNDS = {
    "lr": Bound(0, low_open=True),
    "optimizer__weight_decay": Bound(0),
    "batch_size": Bound(1, integer=True),
    "max_epochs": Bound(1, integer=True),
    "callbacks__early_stopping__patience": Bound(1, integer=True),
    "criterion__label_smoothing": Bound(0, 1, high_open=True),
    "augment__mixup_alpha": Bound(0),
}


def check_bounds(name, value, bound):
    """Raise ``ValueError`` unless a fixed value or a dimension lies inside ``bound``.

    Strings, booleans and None are not checked (they are no numbers).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object or skopt.space.Dimension
        A fixed value, or a dimension: every category, or both ends of a
        range, must lie inside.
    bound : Bound
        The allowed values.

    Raises
    ------
    ValueError
        Naming the parameter, the value and the allowed values.
    """
    if isinstance(value, Categorical):
        bad = [c for c in value.categories if to_python(c) not in bound]
        shown = f"{list(value.categories)!r} (the choice {to_python(bad[0])!r})" \
            if bad else None
    elif isinstance(value, Integer | Real):
        bad = [v for v in (value.low, value.high) if v not in bound]
        shown = f"({value.low!r}, {value.high!r})" if bad else None
    else:
        if isinstance(value, str | bool) or value is None:
            return
        bad = [] if value in bound else [value]
        shown = repr(value) if bad else None
    if bad:
        raise ValueError(
            f"search_space[{name!r}] = {shown} is out of range: {name} must be "
            f"{bound.describe()}. Nothing was trained."
        )


#: prefixes under which parameters are routed: skorch's own, plus
#: ``featurize__`` (the tabular featurizer) and ``augment__`` (batch
#: augmentation, :class:`skautodl.data.augment.Augmentation`); a user may add
#: any of them
SKORCH_PREFIXES = (
    "module__", "optimizer__", "criterion__", "iterator_train__", "callbacks__",
    "featurize__", "augment__",
)
#: plain parameters a user may add or fix (``precision``: mixed precision
#: on CUDA, see :mod:`skautodl.training.precision`)
SKORCH_PARAMS = ("lr", "max_epochs", "batch_size", "lr_schedule", "precision")

#: learning-rate schedules (one cycle per stretch of training)
LR_SCHEDULES = ("cosine", "onecycle", "coslog4")


def task_space(task):
    """Shared dimensions that depend on the task, with their defaults.

    Regularization, scaling and augmentation choices every family of the
    task shares: the learning-rate schedule (cosine, one-cycle or
    RealMLP's ``coslog4``), early
    stopping patience, label smoothing (classifiers), the numeric scaling
    of the tabular featurizer, and batch augmentation (mixup for tabular
    data; shifts, small rotations, cutout and mixup for images). Every
    default is "off" (or the foundation's setting), so the default config
    and the portfolio behave as before. Flips stay off: they change the
    meaning of digits and text; add ``"augment__flip": [False, True]`` to
    ``search_space`` for natural images.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo or None
        The task; None adds nothing (the foundation's space).

    Returns
    -------
    space : dict
        The shared dimensions, keyed by parameter name.
    defaults : dict
        Their default values (augmentation and label smoothing off,
        standard scaling).
    """
    if task is None:
        return {}, {}
    space = {
        "lr_schedule": Categorical(list(LR_SCHEDULES)),
        "callbacks__early_stopping__patience": Integer(5, 30),
    }
    defaults = {}
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


def in_dimension(value, dim):
    """Tell whether ``value`` is a valid value of the skopt dimension ``dim``.

    Strict about types: a category matches only a value of its own type
    (``True`` is not ``1``), an ``Integer`` takes ints only, a ``Real`` any
    finite real number within its bounds.

    Parameters
    ----------
    value : object
        A config's value.
    dim : skopt.space.Dimension
        A ``Categorical``, ``Integer`` or ``Real`` dimension.

    Returns
    -------
    bool
        Whether ``value`` lies in ``dim``.

    Examples
    --------
    >>> from skopt.space import Categorical, Integer
    >>> from skautodl.search.space import in_dimension
    >>> in_dimension(3, Integer(1, 4)), in_dimension(3.0, Integer(1, 4))
    (True, False)
    >>> in_dimension(True, Categorical([0, 1]))
    False
    """
    if value is None:
        return False
    if isinstance(dim, Categorical):
        return any(value == c and type(value) is type(to_python(c))
                   for c in dim.categories)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if isinstance(dim, Integer) and not isinstance(value, numbers.Integral):
        return False
    return math.isfinite(value) and dim.low <= value <= dim.high


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


def check_names(overrides, known, routed=None):
    """Check the keys of ``search_space`` for typos.

    Parameters
    ----------
    overrides : dict
        The user's ``search_space``.
    known : set of str
        Names of the space's dimensions (the searched families' and the
        shared ones).
    routed : dict, optional
        ``{prefix: set of names}``: the parameters each routed prefix
        accepts (``module__`` the searched families' module arguments,
        ``optimizer__`` the optimizer's, ...), as given by
        :func:`skautodl.training.net.routed_parameters`. A name behind
        such a prefix must be one of them; a name behind another of
        :data:`SKORCH_PREFIXES` passes (skorch checks it when the net is
        built).

    Raises
    ------
    ValueError
        For a key that is not a string, or names no known parameter (with
        a "did you mean" suggestion when one is close).
    """
    import difflib

    routed = routed or {}
    for name in overrides:
        if not isinstance(name, str):
            raise ValueError(
                f"search_space keys must be parameter names (str); got {name!r}."
            )
        if name == "family":
            continue
        prefix = next((p for p in routed if name.startswith(p)), None)
        if prefix is not None:
            arg = name[len(prefix):]
            if f"{prefix}{arg}" in known or arg in routed[prefix]:
                continue
            close = difflib.get_close_matches(arg, sorted(routed[prefix]), n=1)
            hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
            raise ValueError(
                f"search_space has {name!r}, but no searched network family or "
                f"training component takes a parameter '{arg}' ({prefix[:-2]} "
                f"parameters: {sorted(routed[prefix])}).{hint}"
            )
        if name in known or name in SKORCH_PARAMS or name.startswith(
            SKORCH_PREFIXES
        ):
            continue
        close = [k for k in sorted(known)
                 if k.replace("__", "_") == name.replace("__", "_")
                 or k.split("__")[-1] == name]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"search_space has an unknown parameter {name!r}.{hint} Known "
            f"parameters: {sorted(known)}; new ones must use skorch's prefixes "
            f"{SKORCH_PREFIXES}."
        )


class SearchSpace:
    """Per-family subspaces of skopt dimensions plus fixed values.

    Parameters
    ----------
    subspaces : dict
        ``{family: {name: skopt.space.Dimension}}``.
    fixed : dict, optional
        ``{family: {name: value}}``: parameters held constant.
    defaults : dict, optional
        ``{family: {name: value}}``: a known-good point of each subspace.
    grids : dict, optional
        ``{family: {name: list}}``: the coarse grid that grid search runs
        over the dimensions the user did not set (see
        :class:`~skautodl.search.searchers.GridSearcher`).
    user_names : set of str, optional
        Names the user's ``search_space`` set (searched or fixed).
    trees : set of str, optional
        Families that are no networks (``"hgb"``): their subspaces hold only
        their own parameters, and they have no epochs.

    Attributes
    ----------
    max_epochs : int
        The most epochs a config of this space trains for: the
        multi-fidelity resource ``R``.
    """

    def __init__(self, subspaces, fixed=None, defaults=None, grids=None,
                 user_names=(), trees=()):
        self.subspaces = subspaces
        self.fixed = fixed or {f: {} for f in subspaces}
        self.defaults = defaults or {f: {} for f in subspaces}
        self.grids = grids or {f: {} for f in subspaces}
        self.user_names = set(user_names)
        self.trees = set(trees)

    @property
    def families(self):
        """The families of the space, in search order."""
        return list(self.subspaces)

    @property
    def max_epochs(self):
        """The most epochs a config trains for: the fidelity resource ``R``."""
        epochs = []
        for f in self.families:
            if f in self.trees:
                continue
            dim = self.subspaces[f].get("max_epochs")
            if dim is None:
                epochs.append(int(self.fixed[f].get(
                    "max_epochs", self.defaults[f].get(
                        "max_epochs", TRAINING_DEFAULTS["max_epochs"]))))
            elif isinstance(dim, Categorical):
                epochs.append(int(max(dim.categories)))
            else:
                epochs.append(int(dim.high))
        return max(epochs, default=TRAINING_DEFAULTS["max_epochs"])

    def names(self, family):
        """List the names of the searched dimensions of ``family``.

        Parameters
        ----------
        family : str
            One of :attr:`families`.

        Returns
        -------
        list of str
            The names, sorted: the order of a point's values.
        """
        return sorted(self.subspaces[family])

    def dimensions(self, family):
        """List the searched dimensions of ``family``, in :meth:`names` order.

        Parameters
        ----------
        family : str
            One of :attr:`families`.

        Returns
        -------
        list of skopt.space.Dimension
            What a skopt ``Optimizer`` of the family is built on.
        """
        return [self.subspaces[family][n] for n in self.names(family)]

    def to_config(self, family, point):
        """Build a config from a point of ``family``'s subspace.

        Parameters
        ----------
        family : str
            One of :attr:`families`.
        point : list
            Values in :meth:`names` order.

        Returns
        -------
        dict
            ``{"family": family}``, the family's fixed values and the
            point's values (as plain Python values).
        """
        config = {"family": family, **self.fixed[family]}
        for name, value in zip(self.names(family), point, strict=True):
            config[name] = to_python(value)
        return config

    def to_point(self, config):
        """Extract the point of a config: its searched values.

        Parameters
        ----------
        config : dict
            A config of this space (with ``"family"``).

        Returns
        -------
        list
            The values of its family's searched dimensions, in
            :meth:`names` order.
        """
        return [config[n] for n in self.names(config["family"])]

    def sample(self, family, rng):
        """Draw one config of ``family``, each dimension from its prior.

        Parameters
        ----------
        family : str
            One of :attr:`families`.
        rng : numpy.random.RandomState
            The random generator.

        Returns
        -------
        dict
            A config (see :meth:`to_config`).
        """
        point = [d.rvs(n_samples=1, random_state=rng)[0]
                 for d in self.dimensions(family)]
        return self.to_config(family, point)

    def default_config(self, family):
        """Return the family's known-good config, inside any narrowed dimension.

        Parameters
        ----------
        family : str
            One of :attr:`families`.

        Returns
        -------
        dict
            A config (see :meth:`to_config`) of each dimension's
            :meth:`default_value`.
        """
        return self.to_config(family, [
            self.default_value(family, name) for name in self.names(family)])

    def default_value(self, family, name):
        """Return the default of one searched dimension, inside its range.

        A default outside the dimension (the user narrowed it) is replaced
        by its first category, or its (geometric, for a log-uniform prior)
        midpoint.

        Parameters
        ----------
        family : str
            One of :attr:`families`.
        name : str
            One of :meth:`names` of ``family``.

        Returns
        -------
        object
            The value, a plain Python value.
        """
        dim = self.subspaces[family][name]
        value = self.defaults[family].get(name)
        if not in_dimension(value, dim):
            if isinstance(dim, Categorical):
                value = dim.categories[0]
            else:
                value = (float(np.sqrt(dim.low * dim.high)) if dim.prior ==
                         "log-uniform" else (dim.low + dim.high) / 2)
                value = int(round(value)) if isinstance(dim, Integer) else value
        return to_python(value)

    @classmethod
    def for_task(cls, families, task, overrides=None, routed=None, fidelity=False):
        """Build the space of ``task`` over ``families`` with the user's overrides.

        Parameters
        ----------
        families : list of Family
            Registry entries (``skautodl.networks.registry.Family``): each
            gives its ``name``, ``space(task)``, ``defaults`` and ``grid``.
        task : skautodl.data.validation.TaskInfo
            The task: its shared dimensions (:func:`task_space`).
        overrides : dict, optional
            The user's ``search_space``.
        routed : dict, optional
            The accepted names per routed prefix, for :func:`check_names`.
        fidelity : bool, default=False
            With multi-fidelity training the epochs are the fidelity's
            resource, not a searched parameter: ``max_epochs`` is fixed to
            the largest value the space allows.

        Returns
        -------
        SearchSpace
            The space.

        Raises
        ------
        ValueError
            For an unknown ``search_space`` key, an unsupported value, or a
            value out of its parameter's range.

        Examples
        --------
        >>> import numpy as np
        >>> from skautodl.data.validation import detect_task
        >>> from skautodl.networks.registry import FAMILIES
        >>> from skautodl.search.space import SearchSpace
        >>> task = detect_task(np.array([0.5, 1.5, 2.5, 3.5]), classifier=False)
        >>> space = SearchSpace.for_task([FAMILIES["mlp"]], task,
        ...                              {"lr": (1e-3, 1e-2), "batch_size": 32},
        ...                              fidelity=True)
        >>> space.families, space.max_epochs
        (['mlp'], 120)
        >>> space.subspaces["mlp"]["lr"]
        Real(low=0.001, high=0.01, prior='uniform', transform='identity')
        >>> space.fixed["mlp"]
        {'batch_size': 32, 'max_epochs': 120}
        """
        names = [f.name for f in families]
        space = cls.build(
            names, {f.name: f.space(task) for f in families},
            {f.name: f.defaults for f in families}, overrides, task=task,
            family_grids={f.name: f.grid for f in families}, routed=routed,
            family_bounds={f.name: f.bounds for f in families},
            trees={f.name for f in families if getattr(f, "is_tree", False)},
        )
        if fidelity:
            epochs = space.max_epochs
            for f in space.families:
                if f in space.trees:  # trained once, at full fidelity
                    continue
                space.subspaces[f].pop("max_epochs", None)
                space.fixed[f]["max_epochs"] = epochs
        return space

    @classmethod
    def build(cls, families, family_spaces, family_defaults, overrides=None,
              task=None, family_grids=None, routed=None, family_bounds=None,
              trees=()):
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
        family_grids : dict, optional
            ``{family: {name: values}}``: each family's coarse grid.
        routed : dict, optional
            Accepted names per routed prefix (see :func:`check_names`).
        family_bounds : dict, optional
            ``{family: {name: Bound}}``: the values each family's own
            parameters may take (the training settings' are
            :data:`TRAINING_BOUNDS`); a dimension or fixed value outside
            raises ``ValueError``.
        trees : set of str, optional
            Families that are no networks (``"hgb"``): their subspace holds
            their own parameters only, not the shared training dimensions,
            and of the user's ``search_space`` they take only their own
            names (``<family>__*``); the networks never take those.

        Returns
        -------
        SearchSpace
            The space.

        Raises
        ------
        ValueError
            For an unknown ``search_space`` key or family, an unsupported
            value, or a value out of its parameter's range.
        """
        overrides = dict(overrides or {})
        trees = set(trees)

        def tree_own(name, tree):
            return name in family_spaces[tree] or name.startswith(f"{tree}__")

        shared, shared_defaults = task_space(task)
        shared = {**TRAINING_SPACE, **shared}
        known = set(shared)
        for f in families:
            known |= set(family_spaces[f])
        check_names(overrides, known, routed)
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
        subspaces, fixed, defaults, grids = {}, {}, {}, {}
        for f in families:
            own = family_spaces[f]
            alone = f in trees
            dims = {**({} if alone else shared),
                    **{k: v for k, v in own.items() if isinstance(v, Dimension)}}
            # a plain value in a family's space fixes a shared dimension
            # for that family (the embed family keeps mixup off)
            fix = {k: v for k, v in own.items() if not isinstance(v, Dimension)}
            for name in fix:
                dims.pop(name, None)
            for name, value in overrides.items():
                if (not tree_own(name, f) if alone
                        else any(tree_own(name, t) for t in trees)):
                    continue  # trees take only their own settings
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
            bounds = {**TRAINING_BOUNDS, **(family_bounds or {}).get(f, {})}
            for name, value in [*dims.items(), *fix.items()]:
                if name in bounds:
                    check_bounds(name, value, bounds[name])
            subspaces[f] = dims
            fixed[f] = fix
            base_defaults = {} if alone else {**TRAINING_DEFAULTS, **shared_defaults}
            defaults[f] = {**base_defaults, **family_defaults[f]}
            grids[f] = {**({} if alone else TRAINING_GRID),
                        **(family_grids or {}).get(f, {})}
        return cls(subspaces, fixed, defaults, grids, user_names=set(overrides),
                   trees=trees & set(families))

    def describe(self):
        """List the space as rows, for documentation and reports.

        Returns
        -------
        list of tuple
            ``(family, name, dimension)`` for each searched dimension, then
            ``(family, name, value)`` for each fixed value.
        """
        rows = []
        for f in self.families:
            for name in self.names(f):
                rows.append((f, name, self.subspaces[f][name]))
            for name, value in self.fixed[f].items():
                rows.append((f, name, value))
        return rows
