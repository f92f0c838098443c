"""infomin: views, contrastive training, I_NCE estimation and probes for the InfoMin experiments."""

__version__ = "0.1.0"
