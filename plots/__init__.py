"""Figure commands: each reads run folders only and writes PNG + PDF (``python -m plots.NAME ...``,
``python -m plots NAME DIR`` or ``learning-law plot NAME DIR``).

``FIGURES`` maps a figure name to (module, input, description); input is what DIR must be:
``evaluate`` (a ``learning-law evaluate`` folder), ``optimize`` (a ``learning-law optimize`` folder),
``trajectory`` (an optimize folder after ``learning-law law OPT_DIR``), ``run`` (a train run with
records, or an evaluate folder: its ``policy/`` run), ``evaluates`` (several evaluate folders).
"""

FIGURES = {
    "objective": ("objective", "evaluate", "Fig. 1: AUC of the desired loss = code length, constant vs optimised"),
    "loss_curves": ("loss_curves", "evaluate", "Fig. 2/5: test-loss curves with the measured speed-up"),
    "outer_progress": ("outer_progress", "optimize", "Fig. 4: AUC and compression ratio per outer step"),
    "speedup_progress": ("speedup_progress", "optimize", "dev vs test speed-up per outer step (over-fitting)"),
    "sim_progress": ("sim_progress", "trajectory", "SIM and KKT residual per outer step"),
    "sim_vs_cr": ("sim_vs_cr", "trajectory", "Fig. 3B/7: SIM vs CR with its fit and the same-window control (paper definition | strict)"),
    "sim_t_vs_loss": ("sim_t_vs_loss", "trajectory", "Fig. 6: SIM_t vs loss per policy, coloured by CR (paper definition | strict)"),
    "zero_share_vs_cr": ("zero_share_vs_cr", "trajectory", "Fig. 8: share of zero weights among CT < 0 vs CR (paper definition | strict)"),
    "gamma_cdf": ("gamma_cdf", "run", "Fig. 9: CDF of gamma / max gamma, well-learned examples and the others (paper definition | strict)"),
    "gamma_heatmap": ("gamma_heatmap", "run", "Fig. 10: the policy over time for examples with CT > 0 (first 50 steps | every recorded step)"),
    "scaling_fits": ("scaling_fits", "evaluate", "Fig. 11 + Table 1: scaling-law fits, extrapolation, Eq. 9"),
    "table2": ("table2", "evaluates", "Table 2: coefficient changes and AR as T and N grow (a sweep)"),
}
