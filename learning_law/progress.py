"""Progress display (tqdm on stderr): steps, rate, ETA and the quantity being watched."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def bar(total: int, desc: str, enabled: bool = True, unit: str = "step"):
    """A progress bar with ETA; silent when ``enabled`` is False."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5, smoothing=0.1)
