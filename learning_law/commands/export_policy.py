"""Export a policy gamma[T, N] as a sparse table of (example, step, weight) rows.

    learning-law export-policy POLICY --out TABLE.csv|TABLE.npz [--threshold W]

POLICY: a .npy [T, N] or a folder holding gamma.npy (an optimize folder, an online run). Rows: every
entry with weight > W (default 0: every non-zero weight, so the table is the whole policy), ordered by
step then example. CSV: header ``example,step,weight``, then ``# shape,T,N``, then the rows (weights to 9
significant digits: float32 exactly). NPZ: arrays example, step (int32), weight (float32), shape.
Read back with ``learning_law.policy_table.read_table``.

Examples:
  learning-law export-policy runs/opt --out runs/opt/gamma.csv
  learning-law export-policy runs/opt/gamma.npy --out table.npz --threshold 1e-4
"""

from __future__ import annotations

NAME = "export-policy"
HELP = "write a policy as a sparse (example, step, weight) table (.csv or .npz)"


def add_arguments(parser) -> None:
    parser.add_argument("policy", help="a .npy [T, N] or a folder holding gamma.npy")
    parser.add_argument("--out", required=True, help="the table: a file name ending in .csv or .npz")
    parser.add_argument("--threshold", type=float, default=0.0,
                        help="keep the entries with weight above this (default 0: every non-zero weight)")


def run(args) -> int:
    from learning_law import policy as P
    from learning_law import policy_table as PT

    gamma = P.load(args.policy)
    rows = PT.export_table(gamma, args.out, args.threshold)
    T, N = gamma.shape
    print(f"{rows} rows of {T * N} entries ({rows / max(T * N, 1):.1%}) with weight > {args.threshold:g} "
          f"-> {args.out}")
    return 0
