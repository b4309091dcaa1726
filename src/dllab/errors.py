"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class DllabError(Exception):
    """An error whose message tells the user what is wrong and how to fix it."""

    exit_code = 2


class ConfigError(DllabError):
    """A configuration value, file or override is invalid."""


class DataError(DllabError):
    """A dataset is missing, partial where it must be complete, or corrupt."""


class DivergenceError(DllabError):
    """Training produced a non-finite loss."""

    exit_code = 3
