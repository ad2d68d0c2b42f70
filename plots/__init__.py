"""Figure commands: each reads run folders only and writes PNG + PDF (``python -m plots.NAME ...``)."""
