"""dllab: the foundations of deep learning as reproducible, tested experiments.

The Python API (see :mod:`dllab.api`): ``dllab.run``, ``dllab.load``, ``dllab.runs``, ``dllab.compare``; errors
are ``dllab.DllabError``. They are imported when first used, so ``import dllab`` stays light.
"""

__version__ = "0.1.0"

__all__ = ["run", "load", "runs", "compare", "Run", "DllabError", "__version__"]


def __getattr__(name: str):
    if name in ("run", "load", "runs", "compare", "Run"):
        from dllab import api

        return getattr(api, name)
    if name == "DllabError":
        from dllab.errors import DllabError

        return DllabError
    raise AttributeError(f"module 'dllab' has no attribute {name!r}")
