"""Sphinx configuration for the simcalib documentation.

Build (what ``.ci/run`` does)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Everything the build needs is local: intersphinx is off (no network), the
gallery runs on scikit-learn's bundled digits and on ``../shared/data`` beside
the repository, and the command-line reference and the benchmark / results
pages are generated here from the code and from the files that exist.

Without ``../shared/data`` (a fresh clone; or ``SIMCALIB_SHARED_DATA`` set to
a folder that lacks it) the build still passes: the examples that need the
offline data fall back to the digits, or are shown without being run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from importlib import import_module
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import simcalib

# -- Project -----------------------------------------------------------------

project = "simcalib"
author = "simcalib developers"
copyright = "simcalib developers, BSD-3-Clause"
version = release = simcalib.__version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "generated/fragments"]
default_role = "literal"
nitpicky = False

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
autoclass_content = "class"

# numpydoc renders "Parameters", "Attributes" ...; the autosummary class
# template lists the methods, so numpydoc must not add a second member table.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# No network: intersphinx stays off (not in ``extensions``).

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"simcalib {release}"
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"install": [], "cli": []}

# -- sphinx-gallery ----------------------------------------------------------


def shared_data_folder():
    """``shared/data`` beside the repository (or ``$SIMCALIB_SHARED_DATA``), or None.

    The same lookup as the examples': a folder without the word vectors
    counts as absent.
    """
    if os.environ.get("SIMCALIB_SHARED_DATA"):
        folder = Path(os.environ["SIMCALIB_SHARED_DATA"])
        return folder if (folder / "wordvectors").is_dir() else None
    for parent in [DOCS, *DOCS.parents]:
        if (parent / "shared" / "data" / "wordvectors").is_dir():
            return parent / "shared" / "data"
    return None


#: Examples that need ``../shared/data`` and have no fallback: shown, not run,
#: when it is absent.
NEEDS_SHARED_DATA = ("plot_class_similarity",)
SHARED_DATA = shared_data_folder()
_RUN = r"/plot_" if SHARED_DATA is not None else (
    r"/(?!(" + "|".join(NEEDS_SHARED_DATA) + r")\.py$)plot_")

sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": _RUN,
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": "True",
    # link the names used in examples to the API reference (local only)
    "doc_module": ("simcalib",),
    "reference_url": {"simcalib": None},
    "backreferences_dir": "generated/backreferences",
}

# Third-party noise while the examples run must not fail a -W build.
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
warnings.filterwarnings(
    "ignore",
    message="Matplotlib is currently using agg, which is a non-GUI backend",
    category=UserWarning,
)

# -- Generated fragments -------------------------------------------------------
# Files under docs/generated/fragments are included by hand-written pages;
# they are rebuilt on every run and git-ignored with the rest of generated/.

FRAGMENTS = DOCS / "generated" / "fragments"


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` only if it changed (keeps Sphinx's cache warm)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _literal(text: str) -> str:
    body = "\n".join(("   " + line).rstrip() for line in text.rstrip().splitlines())
    return f".. code-block:: text\n\n{body}\n"


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def write_cli_reference() -> None:
    """Render ``simcalib --help`` and every ``simcalib COMMAND --help``.

    The parser is built exactly as :func:`simcalib.cli.build_parser` builds it
    (so the page is the real usage text), one subcommand module at a time so
    that a subcommand whose module is not there yet is left out, not fatal.
    """
    import simcalib.cli as cli

    os.environ["COLUMNS"] = "88"  # argparse wraps help text to the terminal width
    try:
        parser = cli.build_parser()
    except ImportError:
        parser = argparse.ArgumentParser(
            prog="simcalib",
            description="Class-similarity label smoothing and calibration tools.",
        )
        sub = parser.add_subparsers(dest="command", metavar="COMMAND")
        for name in cli._SUBCOMMANDS:
            try:
                module = import_module(f"simcalib.cli._{name}")
            except ImportError:
                continue
            module.add_parser(sub)
    out = ["simcalib", "--------", "", _literal(parser.format_help()), ""]
    for name, sub in _subparsers(parser).items():
        title = f"simcalib {name}"
        out += [title, "-" * len(title), "", _literal(sub.format_help()), ""]
    _write(FRAGMENTS / "cli.inc", "\n".join(out))


#: (file under docs/, title, command that writes it) -- the benchmark and
#: results pages show each file that exists and, for the others, the command.
REPORTS = {
    "benchmarks": [
        ("benchmarks/metrics.txt", "Calibration metrics", "python benchmarks/bench_metrics.py"),
        (
            "benchmarks/calibration.txt",
            "Post-hoc calibrators",
            "python benchmarks/bench_calibration.py",
        ),
        (
            "benchmarks/similarity.txt",
            "Class distances",
            "python benchmarks/bench_similarity.py",
        ),
        (
            "benchmarks/training.txt",
            "Training throughput",
            "python benchmarks/bench_training.py",
        ),
    ],
    "results": [
        (
            "results/demo.txt",
            "simcalib demo (digits, CPU)",
            "python benchmarks/bench_demo.py --keep docs/results/demo",
        ),
        (
            "results/demo/fig1_reliability.png",
            "simcalib demo: reliability diagrams",
            "python benchmarks/bench_demo.py --keep docs/results/demo",
        ),
    ],
}


def write_report_fragments() -> None:
    """Include every benchmark / result file that exists, and nothing else.

    Benchmarks and reproduction runs are produced by other commands (often on
    another machine), so the pages list what is there at build time: the
    known files first (a missing one is named with the command that writes
    it), then any other ``.txt`` / ``.md`` table and ``.png`` / ``.svg``
    figure under ``docs/<page>/``, sub-folders included.
    """
    texts, figures = {".txt", ".md"}, {".png", ".svg"}
    for page, known in REPORTS.items():
        seen = {DOCS / rel for rel, _, _ in known}
        folder = DOCS / page
        extra = sorted(  # per folder: tables first, then figures
            (
                p
                for p in (folder.rglob("*") if folder.is_dir() else [])
                if p.is_file() and p.suffix in texts | figures and p not in seen
            ),
            key=lambda p: (str(p.parent), p.suffix in figures, p.name),
        )
        listed = [(str(p.relative_to(DOCS)), str(p.relative_to(folder)), None) for p in extra]
        # a README.md at the top of the folder is the page's overview: first
        entries = (
            [(rel, "Overview", None) for rel, name, _ in listed if name == "README.md"]
            + list(known)
            + [e for e in listed if e[1] != "README.md"]
        )
        out = []
        for rel, title, command in entries:
            path = DOCS / rel
            out += [title, "~" * len(title), ""]
            if path.suffix in figures and path.is_file():
                out += [f".. figure:: /{rel}", "   :width: 100%", "", f"   ``docs/{rel}``", ""]
            elif path.is_file() and path.stat().st_size > 0:
                out += [
                    f"``docs/{rel}``:",
                    "",
                    f".. literalinclude:: /{rel}",
                    "   :language: text",
                    "",
                ]
            else:
                out += [
                    f"``docs/{rel}`` has not been generated in this build; "
                    f"it is written by ``{command}``.",
                    "",
                ]
        _write(FRAGMENTS / f"{page}.inc", "\n".join(out))


def write_quickstart() -> None:
    """Copy the README's quick start, so the two never disagree."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"## Quick start\n(.*?)```python\n(.*?)```", text, re.S)
    if match is None:
        raise RuntimeError("README.md has no '## Quick start' section with a python block")
    intro = " ".join(match.group(1).split())
    intro = re.sub(r"`([^`]+)`", r"``\1``", intro)  # Markdown code -> reST literal
    code = "\n".join(("   " + line).rstrip() for line in match.group(2).rstrip().splitlines())
    _write(FRAGMENTS / "quickstart.inc", f"{intro}\n\n.. code-block:: python\n\n{code}\n")


write_cli_reference()
write_report_fragments()
write_quickstart()

# -- The API reference lists every public name ---------------------------------

API_SUBPACKAGES = (
    "similarity",
    "smoothing",
    "classifier",
    "nn",
    "calibration",
    "metrics",
    "plotting",
    "datasets",
    "experiments",
    "cli",
    "curation",
    "mixing",
    "persistence",
    "progress",
)


def _check_api_reference(app):
    """Warn (an error under -W) when a public name is missing from api.rst.

    "Public" is each subpackage's ``__all__`` plus the top-level ``_LAZY``
    re-exports, so the reference cannot silently fall behind the code.
    """
    from sphinx.util import logging

    logger = logging.getLogger("simcalib.docs")
    text = (DOCS / "api.rst").read_text()
    listed = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(".. module:: ") or stripped.startswith(".. currentmodule:: "):
            current = stripped.split("::", 1)[1].strip()
        elif current and line.startswith("   ") and stripped.isidentifier():
            listed.setdefault(current, set()).add(stripped)
    for sub in API_SUBPACKAGES:
        module_name = f"simcalib.{sub}"
        try:
            module = import_module(module_name)
        except ImportError as exc:
            logger.warning("cannot import %s for the API reference: %s", module_name, exc)
            continue
        for name in getattr(module, "__all__", []):
            if name not in listed.get(module_name, set()):
                logger.warning("public name %s.%s is missing from docs/api.rst", module_name, name)
    for name, module_name in simcalib._LAZY.items():
        if name not in listed.get(module_name, set()):
            logger.warning("top-level export simcalib.%s (%s) is missing from docs/api.rst",
                           name, module_name)


def _resolve_reexports(app, env, node, contnode):
    """Resolve references the Python domain could not place.

    * ``simcalib.TemperatureScaling`` (a top-level re-export) goes to
      ``simcalib.calibration.TemperatureScaling``, where it is documented;
    * a short name such as ``SimilarityLSClassifier`` written in a module
      other than the one that documents it goes to the one documented
      simcalib object of that name, when there is exactly one.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    if target.startswith("simcalib."):
        rest = target[len("simcalib."):]
    elif node.get("py:module") == "simcalib":
        rest = target
    else:
        rest = None
    if rest is not None and rest.split(".", 1)[0] in simcalib._LAZY:
        module = simcalib._LAZY[rest.split(".", 1)[0]]
        return domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], f"{module}.{rest}", node, contnode
        )
    if target.startswith("simcalib.") or "." in target.lstrip("."):
        return None
    suffix = "." + target.lstrip(".")
    matches = [  # canonical aliases (simcalib.classifier.estimator.X) do not count
        name for name, entry in domain.objects.items()
        if name.startswith("simcalib.") and name.endswith(suffix)
        and not getattr(entry, "aliased", False)
    ]
    if len(matches) != 1:
        return None
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode
    )


def _data_docstrings(app, what, name, obj, options, lines):
    """Use the ``#:`` comment of a public constant defined in a private module.

    ``ece_scorer`` is written in ``simcalib/metrics/_scorers.py`` and
    documented as ``simcalib.metrics.ece_scorer``; autodoc looks for its
    ``#:`` comment in the public module only and would otherwise show the
    docstring of the object's *type* (a scorer class, ``tuple``).
    """
    if what != "data" or not name.startswith("simcalib."):
        return
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    package_name, attr = name.rsplit(".", 1)
    package = import_module(package_name)
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        module_name = f"{package_name}.{info.name}"
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:  # any module that cannot be analysed
            continue
        if ("", attr) in docs and getattr(import_module(module_name), attr, None) is obj:
            lines[:] = list(docs[("", attr)])
            return


_CODE = re.compile(r"(``.*?``|`[^`]*`)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w\\])([A-Za-z]\w*)_(?![\w`])")


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    """Escape ``name_`` words outside code so docutils does not read links.

    Docstrings name fitted attributes (``classes_``, ``latent_dim_``) in
    shape descriptions such as ``ndarray of shape (n, latent_dim_)``, where
    reStructuredText would read ``latent_dim_`` as a hyperlink reference.
    Runs after numpydoc (priority 600) and leaves anything in backquotes alone.
    """
    if not name.startswith("simcalib"):
        return
    literal_indent = None  # indentation of the line that opened a literal block
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            in_doctest = False
            continue
        if literal_indent is not None:
            if indent > literal_indent:
                continue
            literal_indent = None
        if in_doctest or stripped.startswith(">>>"):
            in_doctest = True
            continue
        if stripped.endswith("::") or stripped.startswith(".. "):
            literal_indent = indent  # "::" blocks and directive bodies stay verbatim
        if "_" not in line or stripped.startswith(".. "):
            continue
        parts = _CODE.split(line)
        for j in range(0, len(parts), 2):  # even parts are outside backquotes
            parts[j] = _TRAILING_UNDERSCORE.sub(r"\1\\_", parts[j])
        lines[i] = "".join(parts)


def _skip_members(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters.

    ``set_fit_request``, ``set_score_request``, ... are added to every
    estimator by scikit-learn; their docstrings refer to scikit-learn's own
    glossary and say nothing about simcalib.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _data_docstrings)
    app.connect("autodoc-skip-member", _skip_members)
    app.connect("autodoc-process-docstring", _escape_trailing_underscores, priority=600)
    app.connect("builder-inited", _check_api_reference)
    app.connect("missing-reference", _resolve_reexports)
