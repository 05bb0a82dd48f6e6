"""Every public class, function and method has a numpydoc docstring.

The public API is every class and function defined in a module whose dotted
path has no part starting with an underscore, under a name without a
leading underscore, plus the methods and properties of those classes
(those inherited from skautodl's private base classes included, such as
``AutoDLClassifier.fit``), plus everything in ``skautodl.__all__``. Each is
checked with :func:`numpydoc.validate.validate`; only the codes in
``IGNORED`` may be reported. The user-facing names in ``NEEDS_EXAMPLE``
must also have an Examples section, which ``python -m pytest`` runs as a
doctest (``--doctest-modules`` in pyproject.toml).
"""

import importlib
import inspect
import pkgutil

import pytest

import skautodl

numpydoc_validate = pytest.importorskip("numpydoc.validate")

#: numpydoc check codes that are not enforced, and why
IGNORED = {
    # the summary starts on the line of the opening quotes (PEP 257, and the
    # style of scikit-learn's own code); numpydoc 1.6 (the floor in
    # .ci/min-versions.txt) still reports that, later releases do not
    "GL01": "Docstring text (summary) should start in the line immediately "
            "after the opening quotes",
    # an extended summary is written where the one-line summary is not enough;
    # requiring one everywhere would pad short functions with filler
    "ES01": "No extended summary found",
    # See Also is given where a related name helps (save / load, the
    # exporters); most internal functions have no useful neighbour
    "SA01": "See Also section not found",
    # examples are required for the user-facing API only (NEEDS_EXAMPLE); an
    # example of an internal helper would need a whole search to set it up
    "EX01": "No examples section found",
}

#: the user-facing API: each needs an Examples section (a running doctest)
NEEDS_EXAMPLE = (
    "skautodl.estimators.AutoDLClassifier",
    "skautodl.estimators.AutoDLRegressor",
    "skautodl.estimators.AutoDLClassifier.fit",
    "skautodl.estimators.AutoDLClassifier.predict",
    "skautodl.estimators.AutoDLClassifier.predict_proba",
    "skautodl.estimators.AutoDLClassifier.export_onnx",
    "skautodl.estimators.AutoDLClassifier.export_torchscript",
    "skautodl.estimators.AutoDLClassifier.compress",
    "skautodl.persistence.save",
    "skautodl.persistence.load",
    "skautodl.persistence.read_manifest",
    "skautodl.persistence.describe",
    "skautodl.export.export_onnx",
    "skautodl.export.export_torchscript",
    "skautodl.export.graph_inputs",
    "skautodl.compression.compress",
    "skautodl.report.compare",
    "skautodl.search.searchers.registry.SearchSpec",
    "skautodl.serve.make_app",
    "skautodl.cli.main",
)


def _public_modules():
    names = ["skautodl"]
    for info in pkgutil.walk_packages(skautodl.__path__, "skautodl."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _own(obj):
    """Whether ``obj`` (a function or property) is skautodl's own code."""
    func = obj.fget if isinstance(obj, property) else obj
    return getattr(func, "__module__", "").startswith("skautodl")


def _members(cls):
    """Public methods and properties of ``cls``, inherited ones included when
    a skautodl class (a private base) defines them."""
    out = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("skautodl"):
            continue
        for name, member in vars(klass).items():
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if (not name.startswith("_") and _own(member)
                    and (inspect.isfunction(member) or isinstance(member, property))):
                out[name] = member
    return out


def public_api():
    """``{import path: object}`` of the public API (see the module docstring)."""
    found, seen = {}, set()
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isclass(obj)
                                            or inspect.isfunction(obj)):
                continue
            if obj.__module__ != module_name:  # imported, checked where defined
                continue
            found[f"{module_name}.{name}"] = obj
            if inspect.isclass(obj):
                for member_name, member in _members(obj).items():
                    key = id(member.fget if isinstance(member, property) else member)
                    if key not in seen:  # a base's method, once
                        seen.add(key)
                        found[f"{module_name}.{name}.{member_name}"] = member
    for name in skautodl.__all__:
        obj = getattr(skautodl, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


PUBLIC = public_api()


def docstring_errors(import_path):
    """The numpydoc errors of ``import_path`` that are not ignored."""
    ignored = set(IGNORED)
    obj = PUBLIC.get(import_path)
    if inspect.isclass(obj) and getattr(obj, "_is_protocol", False):
        # a typing.Protocol has no constructor of its own: numpydoc would ask
        # for the (*args, **kwargs) of typing's placeholder signature
        ignored.add("PR01")
    result = numpydoc_validate.validate(import_path)
    return [f"{code}: {message}" for code, message in result["errors"]
            if code not in ignored]


def test_public_api_is_found():
    # the walk must reach into subpackages and private bases' methods
    for name in ("skautodl.estimators.AutoDLClassifier",
                 "skautodl.estimators.AutoDLClassifier.fit",
                 "skautodl.persistence.save",
                 "skautodl.networks.mlp.MLP.forward",
                 "skautodl.search.searchers.bayes.BayesSearcher.ask"):
        assert name in PUBLIC
    assert not any(part.startswith("_") for name in PUBLIC
                   for part in name.split(".")[:-1])
    assert len(PUBLIC) > 300


@pytest.mark.parametrize("import_path", sorted(PUBLIC))
def test_numpydoc(import_path):
    errors = docstring_errors(import_path)
    assert not errors, f"{import_path}:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize("import_path", NEEDS_EXAMPLE)
def test_user_facing_api_has_examples(import_path):
    assert import_path in PUBLIC
    codes = [code for code, _ in numpydoc_validate.validate(import_path)["errors"]]
    assert "EX01" not in codes, f"{import_path} has no Examples section"


def test_a_missing_docstring_fails(monkeypatch):
    # the check itself: a public function that loses its docstring is reported
    import skautodl.persistence

    assert not docstring_errors("skautodl.persistence.save")
    monkeypatch.setattr(skautodl.persistence.save, "__doc__", None)
    assert any(e.startswith("GL08") for e in
               docstring_errors("skautodl.persistence.save"))
