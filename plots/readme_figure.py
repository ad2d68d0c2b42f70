"""The README's figure: a perceptron reproduction's loss curves beside its policy heat-map, one PNG.

    python -m plots.readme_figure runs/reproduce-perceptron-cpu [--out docs/main-job.png] [--width 1600]

Reads ``RUN/figures/loss_curves.png`` and ``RUN/figures/gamma_heatmap.png`` (written by ``learning-law
reproduce perceptron``), scales both to one height, places them side by side and writes the PNG atomically,
``--width`` pixels wide, in a 256-colour palette (a small file for the repository).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402  (a matplotlib dependency)

from learning_law.record import atomic_write  # noqa: E402

PARTS = ("loss_curves.png", "gamma_heatmap.png")


def compose(run: Path, width: int = 1600) -> Image.Image:
    """The parts of ``run/figures`` side by side at a common height, ``width`` pixels wide."""
    missing = [p for p in PARTS if not (run / "figures" / p).exists()]
    if missing:
        raise FileNotFoundError(f"{run}/figures lacks {missing}: run `learning-law reproduce perceptron --out {run}`")
    images = [Image.fromarray((np.clip(mpimg.imread(run / "figures" / p)[..., :3], 0, 1) * 255).astype(np.uint8))
              for p in PARTS]
    h = min(im.height for im in images)
    images = [im.resize((round(im.width * h / im.height), h), Image.LANCZOS) for im in images]
    canvas = Image.new("RGB", (sum(im.width for im in images), h), "white")
    x = 0
    for im in images:
        canvas.paste(im, (x, 0))
        x += im.width
    return canvas.resize((width, round(h * width / canvas.width)), Image.LANCZOS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a `learning-law reproduce perceptron` folder")
    ap.add_argument("--out", type=Path, default=Path("docs/main-job.png"))
    ap.add_argument("--width", type=int, default=1600)
    args = ap.parse_args(argv)
    buf = io.BytesIO()
    # a 256-colour palette: a quarter of the size, indistinguishable for line plots and a heat-map
    compose(args.run, args.width).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(buf, format="PNG", optimize=True)
    atomic_write(args.out, lambda f: f.write(buf.getvalue()))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
