"""Every docstring example of the library, the theory module and the experiment helpers runs and gives what
it shows (the docstrings are the API's first documentation)."""

import doctest
import importlib
import pkgutil

import pytest

import experiments
import learning_law
import theory

SKIP = {"learning_law.cli", "learning_law.__main__"}  # entry points: importing them parses no arguments, but skip


def _modules():
    for pkg in (theory, learning_law, experiments):
        yield pkg.__name__
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name not in SKIP:
                yield info.name


WITH_EXAMPLES = [m for m in _modules() if ">>>" in (importlib.util.find_spec(m).loader.get_source(m) or "")]


def test_the_search_finds_the_modules_with_examples():
    assert {"theory.law", "learning_law.search_qn", "experiments.deep_law"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
