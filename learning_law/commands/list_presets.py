"""`learning-law list-presets`: every task's named presets, which search each runs, and the measured time of
`reproduce` with it."""

from __future__ import annotations

from learning_law import config as C

NAME = "list-presets"
HELP = "list the named presets of every task"


def add_arguments(p) -> None:
    del p  # no options


def reproduce_time(p: C.Preset) -> str:
    """How long `reproduce` of preset ``p`` takes: one seed and five (--seeds 0-4), from its measured minutes."""
    m = p.reproduce_minutes
    if m is None:
        return "reproduce: time not measured"
    one = f"{m * 60:.0f} s" if m < 1.5 else f"{m:.0f} min"
    five = f"{5 * m:.0f} min" if 5 * m < 90 else f"{5 * m / 60:.1f} h"
    return f"reproduce: {one} per seed on 2 idle cores; --seeds 0-4: about {five}"


def run(args) -> int:
    width = max(len(name) for presets in C.PRESETS.values() for name in presets)
    for task, presets in C.PRESETS.items():
        for name, p in presets.items():
            print(f"{task:<11} {name:<{width}} {p.description}")
            print(f"{'':<11} {'':<{width}} {p.search_summary()}")
            print(f"{'':<11} {'':<{width}} {reproduce_time(p)}")
    print("\nthe search: auto unless --search or --outer-lr is given (--search fixed alone: the preset's hand-set step)")
    print("error bars over seeds: learning-law reproduce TASK --preset NAME --seeds 0-4 --out DIR "
          "(one reproduction per seed in DIR/seed-S; mean, sd and a 95% t interval in DIR/report.md)")
    return 0
