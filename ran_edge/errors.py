"""Exception types shared by the whole package.

`RanEdgeError` is a *user* error: the CLI prints its message on one line and exits 1.
Internal bugs stay plain exceptions (and print a traceback).
"""

from __future__ import annotations


class RanEdgeError(Exception):
    """A problem the user can fix: bad path, wrong file type, invalid option."""


class MissingDependencyError(RanEdgeError):
    """An optional package is needed for this feature and is not installed."""

    def __init__(self, module: str, extra: str, feature: str = "", cause: BaseException | None = None):
        self.module = module
        self.extra = extra
        self.feature = feature
        what = f" (needed for {feature})" if feature else ""
        why = f": {cause}" if cause is not None else ""
        super().__init__(
            f"'{module}' is not installed{what}{why}; install it with: pip install 'ran-edge[{extra}]'"
        )


class EngineMismatchError(RanEdgeError):
    """A serialized engine does not match the installed TensorRT or the GPU."""


class CheckpointError(RanEdgeError):
    """A checkpoint file is missing, truncated, untrusted or not a RAN checkpoint."""


class DataError(RanEdgeError):
    """A dataset file is missing or malformed; the message names the file and line."""


class AccuracyTargetError(RanEdgeError):
    """An INT8 (or other reduced-precision) result misses its quality target against FP32."""


class InputError(RanEdgeError):
    """A feed does not match the model's inputs."""
