"""The one place where the runtime reaches the layers above it (``docs/architecture.md`` §6).

Preparing a checkpoint (export), another precision (FP16 conversion, INT8 calibration) or a TensorRT engine
(the engine build) needs export, quantize and the engine build, which all run their models through this
runtime. :func:`prepare` imports :mod:`ran_edge.autoload` late, when such a load happens; nothing else below
``autoload`` imports it (``tests/test_import_layers.py``, ``SEAMS``).
"""

from __future__ import annotations

from ran_edge.runtime.choice import LoadRequest, Prepared


def prepare(request: LoadRequest) -> Prepared:
    """The artifact, backend and runner options for ``request`` (built into the cache when needed)."""
    from ran_edge.autoload import prepare_artifact

    return prepare_artifact(request)
