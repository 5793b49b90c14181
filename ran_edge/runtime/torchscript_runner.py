"""TorchScript runner (needs the ``export`` extra: torch).

Thread safety: the module runs under ``torch.inference_mode`` with no per-call state, so
concurrent ``infer`` calls are allowed (torch parallelises inside each call).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence, Tuple, Union

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import TensorSpec
from ran_edge.errors import RanEdgeError
from ran_edge.runtime.base import Runner


class TorchScriptRunner(Runner):
    """Runs a TorchScript file (``.ts``) exported by ``ran-edge export``.

    Args:
        path: the ``.ts`` file.
        inputs: the input specs (from the sidecar).
        output_names: names of the module's outputs, in order (from the sidecar).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    name = "torchscript-runner"

    def __init__(self, path: Union[str, Path], inputs: Sequence[TensorSpec], output_names: Sequence[str],
                 device: str = "cpu"):
        super().__init__()
        self.path = Path(path)
        self._inputs = tuple(inputs)
        self._outputs = tuple(output_names)
        self.device = device
        self.module: Any = None
        self._torch: Any = None

    def activate_impl(self) -> None:
        torch = require("torch", "TorchScript inference")
        if not self.path.is_file():
            raise RanEdgeError(f"TorchScript file not found: {self.path}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 deprecates TorchScript itself
                self.module = torch.jit.load(str(self.path), map_location=self.device).eval()
        except (RuntimeError, ValueError, OSError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RanEdgeError(f"{self.path}: not a loadable TorchScript file ({first[:300]})") from exc
        self._torch = torch

    def deactivate_impl(self) -> None:
        self.module = None

    def input_specs_impl(self) -> Tuple[TensorSpec, ...]:
        return self._inputs

    def output_names(self) -> Tuple[str, ...]:
        return self._outputs

    def infer_impl(self, feed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        torch = self._torch
        args = [torch.from_numpy(np.ascontiguousarray(feed[s.name])).to(self.device) for s in self._inputs]
        with torch.inference_mode():
            out = self.module(*args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if len(outs) != len(self._outputs):
            raise RanEdgeError(f"{self.path}: got {len(outs)} outputs, expected {len(self._outputs)} {list(self._outputs)}")
        return {n: o.detach().cpu().numpy() for n, o in zip(self._outputs, outs)}
