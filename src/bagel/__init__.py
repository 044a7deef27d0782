"""bagel: what your image classifier still gets wrong, and why."""

__version__ = "0.1.0"
