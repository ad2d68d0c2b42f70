"""Errors a user can fix. The CLI turns them into one line on stderr and exit code 2."""


class UsageError(ValueError):
    """Bad input (an option, a size, a file): the message names it and the allowed range."""


class NumericalError(RuntimeError):
    """A run produced NaN or inf; the message names the step."""


def require(cond: bool, field: str, value, allowed: str) -> None:
    """Raise :class:`UsageError` naming ``field``, its ``value`` and the ``allowed`` range unless ``cond``."""
    if not cond:
        raise UsageError(f"{field}={value!r} is invalid: allowed {allowed}")
