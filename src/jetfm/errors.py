"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""


class JetfmError(Exception):
    """Base class: bad input or impossible settings, with a message naming what is wrong."""


class DataError(JetfmError):
    """A data file is missing, truncated, corrupt, or does not match the expected schema."""


class ConfigError(JetfmError):
    """An option or configuration value is invalid."""


class TrainingDiverged(ConfigError):
    """The loss became NaN or infinite (usually a learning rate too high for the model)."""
