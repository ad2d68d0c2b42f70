"""Reading a corpus file: UTF-8 text with errors that name the file, and plain text split into stories.
Shared by the text sources (:mod:`learning_law.data.sources`) and TinyStories
(:mod:`learning_law.data.tinystories`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from learning_law.errors import UsageError


def read_utf8(path: str | os.PathLike, field: str = "corpus") -> str:
    """The text of a UTF-8 file, or a UsageError naming the file and what is wrong with it."""
    p = Path(path).expanduser()
    if p.is_symlink():  # tfds reads local copies through links in its manual_dir: name the real file
        p = p.resolve()
    if not p.exists():
        raise UsageError(f"{field}: file {str(p)!r} does not exist")
    if not p.is_file():
        raise UsageError(f"{field}: {str(p)!r} is not a file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{field}: file {str(p)!r} is not UTF-8 text (invalid byte at offset {e.start}); "
                         f"convert it, e.g. iconv -f latin1 -t utf-8") from None
    if not text.strip():
        raise UsageError(f"{field}: file {str(p)!r} is empty")
    return text.lstrip("\ufeff")


def split_stories(text: str) -> list[str]:
    """Stories of a plain text: blank-line separated paragraphs if there are blank lines, else lines.
    Whitespace inside a story is collapsed to single spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text.strip()) else text.split("\n")
    return [" ".join(p.split()) for p in parts if p.strip()]
