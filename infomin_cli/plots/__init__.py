"""Figures drawn from the results CSV alone, so any CSV with the documented columns can be plotted."""
