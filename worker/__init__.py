"""partoo-bulk: change thousands of Partoo conversations at once, safely."""

__version__ = "0.1.0"
__all__ = ["__version__"]
