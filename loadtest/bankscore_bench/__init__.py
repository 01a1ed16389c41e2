"""bankscore-bench: load tests for Bank Marketing scoring endpoints, built on Locust, speaking ab's language.

This package may import ``bankscore``; ``bankscore`` never imports it.
"""

from bankscore._version import __version__

__all__ = ["__version__"]
