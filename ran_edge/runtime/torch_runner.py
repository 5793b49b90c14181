"""Torch eager runner: an in-memory RAN (a checkpoint or a random model) through one of its region paths.

The bench's torch subjects, and any caller comparing eager torch with an exported artifact, run through this
runner, so they share the lifecycle and the feed check of :mod:`ran_edge.runtime.base`. Needs torch.

Thread safety: the model runs under ``torch.inference_mode`` with no per-call state besides the CUDA timing
events (last writer wins), like :class:`~ran_edge.runtime.torchscript_runner.TorchScriptRunner`.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ran_edge._lazy import require
from ran_edge.artifact import InputKind, RegionPath, TensorSpec
from ran_edge.errors import RanEdgeError
from ran_edge.runtime.base import Runner

OUTPUT_NAMES = ("logits", "region_weights")


def model_input_spec(config: Any, path: RegionPath) -> TensorSpec:
    """The input a RAN takes through ``path``: ``faces [N,3,S,S]`` or the region batch ``regions [N*K,3,R,R]``."""
    if RegionPath(path).input_kind is InputKind.REGIONS:
        r = config.preprocess.region_size
        return TensorSpec(InputKind.REGIONS.value, (-1, 3, r, r))
    s = config.preprocess.face_size
    return TensorSpec(InputKind.FACES.value, (-1, 3, s, s))


class TorchRunner(Runner):
    """Runs a RAN module eagerly: ``per-region`` (one trunk call per region), ``region-batch`` (crops in the
    model, one trunk pass) or ``fused`` (the region batch as input).

    Args:
        model: a ``ran_edge.model.ran.RAN`` (moved to ``device`` and put in eval mode on activation).
        path: the region path.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        threads: torch intra-op threads to set on activation (None: leave torch's setting).
    """

    name = "torch-runner"

    def __init__(self, model: Any, path: RegionPath = RegionPath.REGION_BATCH, device: str = "cpu",
                 threads: Optional[int] = None):
        super().__init__()
        self.model = model
        self.path = RegionPath(path)
        self.device = device
        self.threads = threads
        self._input = model_input_spec(model.config, self.path)
        self._torch: Any = None
        self._fn: Any = None
        self._events: list = []
        #: device time of the last call in ms (CUDA only), as the TensorRT runner reports it.
        self.last_gpu_time_ms: Optional[float] = None

    @property
    def on_cuda(self) -> bool:
        """Whether the model runs on a CUDA device."""
        return str(self.device).startswith("cuda")

    def activate_impl(self) -> None:
        torch = require("torch", "torch eager inference")
        if self.threads:
            torch.set_num_threads(int(self.threads))
        if self.on_cuda and not torch.cuda.is_available():
            raise RanEdgeError("--torch-device cuda: torch sees no CUDA device on this machine")
        self.model = self.model.to(torch.device(self.device)).eval()
        self._fn = {RegionPath.PER_REGION: self.model.run_per_region, RegionPath.REGION_BATCH: self.model.run,
                    RegionPath.FUSED: self.model.run_regions}[self.path]
        self._torch = torch

    def deactivate_impl(self) -> None:
        self._fn = None
        self._events = []

    def input_specs_impl(self) -> Tuple[TensorSpec, ...]:
        return (self._input,)

    def output_names(self) -> Tuple[str, ...]:
        return OUTPUT_NAMES

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on CPU)."""
        if self.on_cuda:
            self._torch.cuda.synchronize()

    def infer_impl(self, feed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(feed[self._input.name])).to(self.device, non_blocking=True)
            if self.on_cuda:
                if not self._events:
                    self._events = [torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)]
                self._events[0].record()
                out = self._fn(t)
                self._events[1].record()
            else:
                out = self._fn(t)
            result = {"logits": out.logits.float().cpu().numpy(), "region_weights": out.region_weights.float().cpu().numpy()}
        if self.on_cuda:
            torch.cuda.synchronize()
            self.last_gpu_time_ms = float(self._events[0].elapsed_time(self._events[1]))
        return result
