"""Sphinx configuration of the skautodl documentation.

Build (from the repository root, with the ``docs`` extra installed)::

    python -m sphinx -W -b html docs docs/_build/html

The build runs every script of ``examples/`` through sphinx-gallery, each
with its ``time_budget`` capped by ``SKAUTODL_EXAMPLE_BUDGET`` (5 s unless
the environment sets it). ``-D plot_gallery=0`` skips running them (the
gallery pages are still written, without outputs). The build reads nothing
from the network: intersphinx is not used.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout's package, also when it is not installed
sys.path.insert(0, str(ROOT))

# every example reads this cap for its time_budget; set before sphinx-gallery
# runs the scripts (in this process)
os.environ.setdefault("SKAUTODL_EXAMPLE_BUDGET", "5")
# worker processes of the examples (n_jobs, Dask) must not open windows
os.environ.setdefault("MPLBACKEND", "Agg")

import skautodl  # noqa: E402

project = "skautodl"
author = "skautodl developers"
copyright = "skautodl developers"
release = skautodl.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    # sphinx-gallery's by-products that are not pages
    "auto_examples/**/*.ipynb",
    "auto_examples/**/*.py",
    "auto_examples/**/*.zip",
    "auto_examples/**/*.json",
    "auto_examples/**/*.md5",
    "auto_examples/**/*.pickle",
]

# -- Markdown (MyST) --------------------------------------------------------
# GitHub-style anchors for headings, so links such as
# ``search.md#search-strategies`` work on GitHub and in the built site alike
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# numpydoc renders the docstrings; the class pages list their methods
# through autosummary's template, not numpydoc's member tables
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# `name : type` descriptions are prose, not cross-references to resolve
numpydoc_xref_param_type = False

templates_path = ["_templates"]
# `name` in a docstring is code, as in scikit-learn's documentation
default_role = "literal"

# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # run every script, not only plot_*.py
    "filename_pattern": r"\.py$",
    "within_subsection_order": "FileNameSortKey",
    # from first steps to deployment (the default order is alphabetical)
    "subsection_order": ["../examples/tabular", "../examples/images",
                         "../examples/search", "../examples/deploy"],
    "download_all_examples": False,
    "remove_config_comments": True,
    # an example that raises fails the build
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "doc_module": ("skautodl",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skautodl": None},
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
}

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skautodl {release}"
html_theme_options = {
    "github_url": "https://github.com/skautodl/skautodl",
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False
