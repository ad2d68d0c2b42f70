"""A TinyStories-format .txt file (stories separated by ``<|endoftext|>``) of stories from the embedded grammar,
for runs through the ``tinystories:PATH`` reader when no TinyStories copy is at hand (this machine has no
network):

    python -m experiments.stories_file data/stories.txt [--stories 1600] [--seed 1]
    learning-law reproduce lm --preset cpu --corpus tinystories:data/stories.txt --seeds 0-4 --out R

The stories are the embedded corpus's kind (the same grammar), so the numbers are not TinyStories' own; the
file exercises the whole file path (tfds builder, cache, tokenizer, splits). A real copy goes in its place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from learning_law import record as R

EOT = "<|endoftext|>"


def write_stories_file(path: str | Path, n_stories: int = 1600, seed: int = 1) -> Path:
    """Write ``n_stories`` grammar stories (drawn with ``seed``) to ``path`` unless it exists; returns it."""
    from learning_law.data.corpus import generate_corpus

    path = Path(path)
    if not path.exists():
        stories, _ = generate_corpus(n_stories, seed)
        text = f"\n{EOT}\n".join(stories) + "\n"
        R.atomic_write(path, lambda f: f.write(text.encode()))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="the .txt file to write (left as it is when it exists)")
    ap.add_argument("--stories", type=int, default=1600, help="how many stories (default 1600)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the grammar's draws (default 1)")
    args = ap.parse_args(argv)
    if args.stories < 1:
        ap.error(f"--stories={args.stories} is invalid: allowed >= 1")
    print(write_stories_file(args.path, args.stories, args.seed))
    return 0


if __name__ == "__main__":
    from learning_law import xla_flags
    xla_flags.apply()  # the CLI's XLA settings for LM runs, before JAX's backend starts
    sys.exit(main())
