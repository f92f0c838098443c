"""Sweeps: one knob of one view family over a range of values, each point pretrain -> I_NCE -> probe."""
