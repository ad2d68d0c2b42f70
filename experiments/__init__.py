"""Experiment scripts: thin compositions of the library (build task, optimise, evaluate, draw, report)."""
