"""TinyStories (Eldan & Li 2023) through a tensorflow-datasets builder, without TensorFlow.

The builder writes ``array_record`` files, read back with ``builder.as_data_source()`` (random access,
numpy; no TensorFlow). Sources, in this order:

* a local copy (``load_tinystories(PATH)``, i.e. ``--corpus tinystories:PATH``): the official ``.txt``
  files (stories separated by ``<|endoftext|>``), ``.json`` (a list of objects with a "story" field, as in
  TinyStories_all_data/*.json) or ``.jsonl`` (one such object per line), ``.parquet`` (a "text" or "story"
  column), or a folder holding such files. Files whose name contains "valid" go to the validation split,
  the others to train. The local path never touches the network.
* the official files from Hugging Face (``load_tinystories("download")``), fetched by tfds' download
  manager; needs a network (offline, tfds retries for minutes before failing), so tests never use it.

Prepared data lives in a cache keyed by the SHA-256 of the source files (``$LEARNING_LAW_CACHE`` or
``~/.cache/learning_law``, then ``tinystories/<hash>``), so a re-run reuses the array_record files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from learning_law.data.text import read_utf8, split_stories
from learning_law.errors import UsageError

HF_BASE = "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/"
URLS = {"train": HF_BASE + "TinyStoriesV2-GPT4-train.txt", "validation": HF_BASE + "TinyStoriesV2-GPT4-valid.txt"}
SUFFIXES = (".txt", ".json", ".jsonl", ".parquet")
EOT = "<|endoftext|>"
HOW_TO = ("pass a local TinyStories copy as tinystories:PATH (PATH = a .txt file with <|endoftext|> "
          "separators such as TinyStoriesV2-GPT4-train.txt, a .json/.jsonl file of objects with a \"story\" "
          "field, a .parquet file with a \"text\" or \"story\" column, or a folder holding them), or "
          "tinystories:download to fetch the official files from huggingface.co (needs a network)")


# ------------------------------------------------------------------------------------ file readers
def _clean(story) -> str:
    return " ".join(str(story).split())


def read_txt(path: Path) -> list[str]:
    """Stories of an official .txt file: separated by <|endoftext|> (else by blank lines)."""
    text = read_utf8(path, "corpus=tinystories:PATH")
    if EOT in text:
        return [s for s in (_clean(p) for p in text.split(EOT)) if s]
    return split_stories(text)


def read_json(path: Path) -> list[str]:
    """Stories of a .json list (or .jsonl lines) of objects with a "story" (or "text") field."""
    text = read_utf8(path, "corpus=tinystories:PATH")
    try:
        if path.suffix == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            items = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"corpus=tinystories:PATH: {str(path)!r} is not valid JSON ({e})") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise UsageError(f"corpus=tinystories:PATH: {str(path)!r} must hold a list of objects with a "
                         f"\"story\" field")
    out = []
    for it in items:
        if isinstance(it, dict) and isinstance(it.get("story", it.get("text")), str):
            out.append(_clean(it.get("story", it.get("text"))))
        else:
            raise UsageError(f"corpus=tinystories:PATH: {str(path)!r}: an entry has no \"story\" text "
                             f"field: {str(it)[:80]!r}")
    return [s for s in out if s]


def read_parquet(path: Path) -> list[str]:
    """Stories of a .parquet file with a "text" or "story" column."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow comes with tfds' dependencies here
        raise UsageError("corpus=tinystories:PATH: reading .parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise UsageError(f"corpus=tinystories:PATH: {str(path)!r} is not a readable parquet file ({e})") from None
    col = next((c for c in ("text", "story") if c in table.column_names), None)
    if col is None:
        raise UsageError(f"corpus=tinystories:PATH: {str(path)!r} has no \"text\" or \"story\" column "
                         f"(columns: {table.column_names})")
    return [s for s in (_clean(x) for x in table.column(col).to_pylist() if x is not None) if s]


READERS = {".txt": read_txt, ".json": read_json, ".jsonl": read_json, ".parquet": read_parquet}


def source_files(path: str | os.PathLike) -> list[Path]:
    """The supported files of PATH (a file, or the files of a folder, sorted by name)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(f"corpus=tinystories:PATH: {str(p)!r} does not exist; {HOW_TO}")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in SUFFIXES)
        if not files:
            raise UsageError(f"corpus=tinystories:PATH: folder {str(p)!r} has no {'/'.join(SUFFIXES)} files; "
                             f"{HOW_TO}")
        return files
    if p.suffix not in SUFFIXES:
        raise UsageError(f"corpus=tinystories:PATH: {str(p)!r} has suffix {p.suffix!r}: allowed "
                         f"{list(SUFFIXES)}")
    if p.stat().st_size == 0:
        raise UsageError(f"corpus=tinystories:PATH: file {str(p)!r} is empty")
    return [p]


def files_hash(files: list[Path]) -> str:
    """SHA-256 over the names and contents of ``files`` (the cache key)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _split_of(f: Path) -> str:
    return "validation" if re.search(r"valid", f.name, re.IGNORECASE) else "train"


# ------------------------------------------------------------------------------------------ builder
def _builder_class():
    """The tfds builder class (defined lazily: importing tfds takes a second)."""
    global _BUILDER
    if _BUILDER is not None:
        return _BUILDER
    import tensorflow_datasets as tfds

    class TinyStories(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        """TinyStories: short stories in simple English (Eldan & Li 2023), one "story" text per example."""

        VERSION = tfds.core.Version("1.0.0")
        RELEASE_NOTES = {"1.0.0": "Stories from local files or the official TinyStoriesV2-GPT4 files."}
        MANUAL_DOWNLOAD_INSTRUCTIONS = HOW_TO

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                description="TinyStories (Eldan & Li 2023)",
                features=tfds.features.FeaturesDict({"story": tfds.features.Text()}),
                homepage="https://huggingface.co/datasets/roneneldan/TinyStories",
            )

        def _split_generators(self, dl_manager):
            manual = getattr(dl_manager, "_manual_dir", None)
            files = []
            if manual is not None and Path(manual).is_dir():
                files = sorted(f for f in Path(manual).iterdir() if f.suffix in SUFFIXES)
            if files:
                by_split: dict[str, list[Path]] = {}
                for f in files:
                    by_split.setdefault(_split_of(f), []).append(f)
                if "train" not in by_split:  # e.g. only a *-valid.txt was given: it is the corpus
                    by_split = {"train": by_split.pop("validation")}
            else:  # only reached by load_tinystories("download")
                paths = dl_manager.download(URLS)
                by_split = {k: [Path(v)] for k, v in paths.items()}
            return {k: self._generate_examples(v) for k, v in by_split.items()}

        def _generate_examples(self, files):
            for f in files:
                reader = READERS.get(Path(f).suffix, read_txt)
                for i, story in enumerate(reader(Path(f))):
                    yield f"{Path(f).name}/{i}", {"story": story}

    _BUILDER = TinyStories
    return TinyStories


_BUILDER = None


def cache_root() -> Path:
    return Path(os.environ.get("LEARNING_LAW_CACHE", "~/.cache/learning_law")).expanduser()


def prepare(path: str | os.PathLike, data_dir: str | os.PathLike | None = None):
    """Prepare (or reuse) the array_record dataset of a local copy; returns the tfds builder."""
    import tensorflow_datasets as tfds

    base = Path(data_dir).expanduser() if data_dir else cache_root() / "tinystories"
    if str(path) == "download":
        key, manual = "download", None
    else:
        files = source_files(path)
        key = files_hash(files)[:16]
        manual = base / key / "manual"
        manual.mkdir(parents=True, exist_ok=True)
        for f in files:  # the builder reads exactly these files, through links in its manual_dir
            link = manual / f.name
            if not link.exists():
                os.symlink(f.resolve(), link)
    root = base / key
    builder = _builder_class()(data_dir=str(root / "data"), file_format="array_record")
    config = tfds.download.DownloadConfig(manual_dir=str(manual) if manual else None, try_download_gcs=False,
                                          compute_stats=tfds.download.ComputeStatsMode.SKIP)
    builder.download_and_prepare(download_dir=str(root / "downloads"), download_config=config)
    return builder


def load_tinystories(path: str | os.PathLike, split: str = "train",
                     data_dir: str | os.PathLike | None = None) -> list[str]:
    """The stories of ``split`` of a TinyStories copy (see the module docstring), via the tfds builder.

    ``path``: a local file or folder, or "download" for the official files (network). ``data_dir``: where
    the prepared array_record files go (default: ``cache_root() / "tinystories"``), under the files' hash.
    The order is the builder's (a deterministic function of the files); callers shuffle with a seed.
    """
    builder = prepare(path, data_dir)
    splits = builder.info.splits
    if split not in splits:
        raise UsageError(f"TinyStories split={split!r} is invalid: allowed {sorted(splits)}")
    source = builder.as_data_source(split=split)
    examples = source.__getitems__(list(range(len(source))))
    stories = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in (ex["story"] for ex in examples)]
    if not stories:
        raise UsageError(f"corpus=tinystories:{path}: no stories found; {HOW_TO}")
    return stories
