"""Write and read the CSV files, the summary, heatmaps, regressions, baselines and the
selftest's table (pandas, matplotlib)."""
