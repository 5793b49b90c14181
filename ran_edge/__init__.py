"""ran-edge: RAN facial-expression recognition from PyTorch to fast edge inference.

Importing this package is cheap: it imports nothing heavy (no torch, no tensorrt).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
