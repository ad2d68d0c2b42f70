"""``python -m plots NAME DIR [DIR ...] [--out STEM]``: draw one figure (see ``plots.FIGURES``)."""

import sys

from learning_law.cli import main

if __name__ == "__main__":
    sys.exit(main(["plot", *sys.argv[1:]]))
