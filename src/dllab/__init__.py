"""dllab: the foundations of deep learning as reproducible, tested experiments."""

__version__ = "0.1.0"
