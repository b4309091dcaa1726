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


class DamagedFileError(DllabError):
    """A file of a run (or a cache) is truncated, binary where text belongs, or holds the wrong kind of value."""


def os_error(exc: OSError, then: str = "run again") -> DllabError:
    """One line for a failed read or write of the file system (a full disk, a missing permission), ending with
    what to do: ``then`` (e.g. "continue with dllab run X --out DIR --resume")."""
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DllabError(f"no space left on the device{where}: free some space, then {then}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DllabError(f"not allowed to write{where}: {exc.strerror}; choose a writable folder, then {then}")
    return DllabError(f"{exc.strerror or exc}{where}; {then}")
