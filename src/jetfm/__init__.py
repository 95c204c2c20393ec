"""jetfm: jet foundation models — simulate, pre-train, evaluate."""
__version__ = "0.1.0"
