"""Compare dumps: read them in slices, measure every pair in float64, judge each row
against the truth's calibrated limits. NumPy only, never pandas or a framework."""
