"""Every `learning-law ...` command line of README.md and docs/*.md parses with the CLI's own parser.

Parse only (nothing runs): a documented command or option that is renamed or removed, or a bad choice,
fails here, so no documented command rots. A span that names a command without all its required
arguments (`learning-law optimize`, `learning-law reproduce lm --preset cpu`) is checked for what it
gives. Placeholders in upper case that stand for a choice (TASK, COMMAND) are filled with a valid value
first; a line with "...", "|" or "[...]" is a shortened command and is skipped.
"""

import argparse
import functools
import re
import shlex
from pathlib import Path

import pytest

from learning_law import config as C
from learning_law.cli import build_parser
from learning_law.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Placeholders that stand for a choice of the parser (the others, folder names like R or DIR, parse as is).
PLACEHOLDERS = {"TASK": "perceptron", "P": "cpu", "COMMAND": "optimize"}
INLINE = re.compile(r"`(learning-law [^`]+)`")
FENCE = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.S)


def commands(text: str) -> list[str]:
    """The `learning-law` command lines of a markdown text: inline code spans and lines of code blocks."""
    out = [m.group(1) for m in INLINE.finditer(FENCE.sub("", text))]
    for block in FENCE.findall(text):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():  # a line continued with a backslash is one command
            line = line.strip()
            if line.startswith("learning-law "):
                out.append(line)
    return out


def argv_of(line: str) -> list[str] | None:
    """The argument list of a documented command (without `learning-law`), or None for a shortened one."""
    words = shlex.split(line, comments=True)
    if "..." in line or any("|" in w for w in words) or any(w.startswith("[") for w in words):
        return None
    words = [PLACEHOLDERS.get(w, w) for w in words[1:]]
    return words


class ParseError(Exception):
    pass


def _error(self, message):  # argparse's error, raised instead of printed with an exit
    raise ParseError(message)


def _parse(parser, argv: list[str]) -> None:
    args = None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(argparse.ArgumentParser, "error", _error)
        try:
            args = parser.parse_args(argv)
        except ParseError as e:  # a renamed option, a bad choice; a missing argument is a fragment's right
            if not str(e).startswith("the following arguments are required"):
                raise AssertionError(f"does not parse: learning-law {shlex.join(argv)}: {e}") from e
        except SystemExit as e:  # --help
            assert e.code == 0, argv
    if argv[0] == "launch" and "--" in argv:  # the command it runs in each process parses too
        inner = argv[argv.index("--") + 1:]
        assert inner, argv
        _parse(parser, inner)
    preset = getattr(args, "preset", None)
    if preset is not None:  # a named preset of the task (free text for argparse)
        task = getattr(args, "experiment", None) or getattr(args, "task", "perceptron")
        try:
            C.get_preset(task, preset)
        except UsageError as e:
            raise AssertionError(f"learning-law {shlex.join(argv)}: {e}") from e


def strict_parser():
    """The CLI's parser with abbreviations refused (a documented option must be spelt out)."""
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for p in [parser, *subs.choices.values()]:
        p.allow_abbrev = False
    return parser


@functools.cache
def parser():
    return strict_parser()


def documented() -> list[tuple[str, str]]:
    return [(doc.relative_to(ROOT).as_posix(), line) for doc in DOCS for line in commands(doc.read_text())]


def test_the_docs_document_commands_and_the_readme_its_quick_start():
    found = documented()
    assert len(found) > 40 and {d for d, _ in found} >= {"README.md", "docs/cli.md", "docs/results.md"}
    readme = (ROOT / "README.md").read_text()
    assert "python3 dev.py main" in readme and "python3 dev.py test" in readme


@pytest.mark.parametrize("doc,line", documented())
def test_every_documented_command_parses(doc, line):
    argv = argv_of(line)
    if argv is None:
        pytest.skip("a shortened command (with ... or alternatives)")
    _parse(parser(), argv)


def test_a_renamed_option_fails_the_check():
    parser = strict_parser()  # noqa: F811
    line = "learning-law optimize --task perceptron --preset cpu --outer-step 3 --out O"  # --outer-steps misspelt
    with pytest.raises(AssertionError, match="does not parse"):
        _parse(parser, argv_of(line))
    with pytest.raises(AssertionError, match="does not parse"):
        _parse(parser, argv_of("learning-law launch --processes 2 -- optimize --preset tiny --devise 2 --out O"))
    with pytest.raises(AssertionError, match="preset='paper-figure' is invalid"):
        _parse(parser, argv_of("learning-law reproduce perceptron --preset paper-figure --out R"))
    _parse(parser, argv_of("learning-law optimize --task perceptron --preset cpu --outer-steps 3 --out O"))
    assert commands("a `learning-law law R` b\n```bash\nlearning-law list-presets  # all\n```\n") == \
        ["learning-law law R", "learning-law list-presets  # all"]
