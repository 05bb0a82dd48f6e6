"""Cheap checks of the documentation site's sources (the CI build of the
site with ``-W`` is the main check; these run without Sphinx)."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: generated or private folders of docs/, not pages of our own
SKIP_DIRS = {"_build", "_templates", "auto_examples", "generated", "gen_modules"}
#: sphinx-gallery's timing page (generated, an orphan)
SKIP_FILES = {"sg_execution_times.rst"}

#: modules whose public names the API reference must list: the names in
#: their ``__all__``, or else every public class and function they define
API_MODULES = [
    "skautodl",
    "skautodl.persistence",
    "skautodl.export",
    "skautodl.compression",
    "skautodl.report",
    "skautodl.exceptions",
    "skautodl.search",
    "skautodl.search.searchers",
]
#: the public entry points of modules whose other functions are helpers
API_NAMES = ["skautodl.cli.main", "skautodl.serve.make_app", "skautodl.serve.serve",
             "skautodl.search.space.SearchSpace"]


def _pages():
    return sorted(p for p in DOCS.rglob("*")
                  if p.suffix in {".md", ".rst"} and p.name not in SKIP_FILES
                  and not SKIP_DIRS.intersection(p.relative_to(DOCS).parts))


def _toctree_entries(page):
    """The documents a page's toctrees name, as paths relative to docs/."""
    text = page.read_text()
    if page.suffix == ".md":
        blocks = re.findall(r"```\{toctree\}\n(.*?)```", text, flags=re.S)
    else:
        blocks = re.findall(r"\.\. toctree::\n((?:[ \t]+.*\n|\n)*)", text)
    out = set()
    for block in blocks:
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith(":"):
                continue
            target = (page.parent / line).resolve().relative_to(DOCS)
            out.add(target.as_posix())
    return out


def test_every_page_is_in_a_toctree():
    listed = set().union(*(_toctree_entries(p) for p in _pages()))
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in _pages()}
    missing = sorted(pages - listed - {"index"})
    assert not missing, f"pages in no toctree: {missing}"
    unknown = sorted(e for e in listed - pages if not e.startswith("auto_examples/"))
    assert not unknown, f"toctree entries without a page: {unknown}"


def _public_names(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_")
                 and (inspect.isclass(obj) or inspect.isfunction(obj))
                 and obj.__module__ == module_name]
    out = []
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj) or callable(obj):  # constants are not listed
            out.append(f"{module_name}.{name}")
    return out


def _api_entries():
    """Fully qualified names of the entries of api.rst's autosummaries."""
    text = (DOCS / "api.rst").read_text()
    current = re.search(r"^\.\. currentmodule:: (\S+)", text, flags=re.M).group(1)
    entries = re.findall(r"^   ([A-Za-z_][\w.]*)$", text, flags=re.M)
    return {f"{current}.{e}" for e in entries}


def _same_object(a, b):
    def resolve(path):
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)
    return resolve(a) is resolve(b)


@pytest.mark.parametrize("module_name", API_MODULES)
def test_public_names_are_in_the_api_reference(module_name):
    entries = _api_entries()
    missing = [name for name in _public_names(module_name)
               if name not in entries
               and not any(_same_object(name, e) for e in entries)]
    assert not missing, f"not in docs/api.rst: {missing}"


def test_api_entry_points_are_listed():
    entries = _api_entries()
    assert set(API_NAMES) <= entries


def test_no_link_to_the_old_user_guide():
    """docs/user_guide.md was split into docs/user_guide/; no link may
    point at it."""
    root = DOCS.parent
    files = [root / "README.md", *_pages()]
    stale = [str(f.relative_to(root)) for f in files
             if "user_guide.md" in f.read_text()]
    assert not stale
