"""NVIDIA Model Optimizer's INT8 PTQ of a ran-edge model, run inside the ModelOpt venv (``make modelopt-env``).

    .venv-modelopt/bin/python benchmarks/modelopt_peer.py onnx-ptq  --fp32 model.onnx --calib calib.npy --out mo.onnx
    .venv-modelopt/bin/python benchmarks/modelopt_peer.py torch-ptq --checkpoint best.pt --fp32 model.onnx \
        --calib calib.npy --out mo_torch.onnx

ModelOpt is not a dependency of ran-edge: its ``[onnx]`` extra pins ``onnxruntime-gpu`` 1.24, which breaks the
``onnxruntime`` of ran-edge's own venv (docs/qat.md), so ``benchmarks/int8_fidelity.py`` runs this script in a venv of
its own and judges the files it writes in ran-edge's venv, like every other variant.

* ``onnx-ptq``: ``python -m modelopt.onnx.quantization`` as its documentation shows it (INT8, its default calibration
  method, entropy), on the FP32 ONNX, calibrated on ONNX Runtime's CPU provider; ``--high_precision_dtype fp32``
  keeps the layers it leaves unquantized FP32 (its default turns them FP16), so the gate sees INT8's effect alone.
* ``torch-ptq``: ``modelopt.torch.quantization.quantize`` with ``INT8_DEFAULT_CFG`` (max calibration, per-channel
  weights) on the checkpoint's RAN, then the TorchScript ONNX exporter, which writes ModelOpt's quantizers as
  QuantizeLinear/DequantizeLinear pairs; the input/output names and dynamic batch of the FP32 ONNX are kept so the
  same sidecar describes it.

``calib.npy`` is ``float32 [N, 3, S, S]``: faces already preprocessed as the model's input (written by the caller).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def onnx_ptq(fp32: Path, calib: Path, out: Path) -> None:
    """ModelOpt's ONNX PTQ through its own command line (INT8, default calibration)."""
    cmd = [sys.executable, "-m", "modelopt.onnx.quantization", f"--onnx_path={fp32}", "--quantize_mode=int8",
           f"--calibration_data_path={calib}", "--calibration_eps", "cpu", "--high_precision_dtype=fp32",
           f"--output_path={out}"]
    subprocess.run(cmd, check=True)


def torch_ptq(checkpoint: Path, fp32: Path, calib: Path, out: Path) -> None:
    """ModelOpt's PyTorch PTQ (INT8_DEFAULT_CFG, max calibration) of the checkpoint's RAN, exported to QDQ ONNX."""
    import numpy as np
    import onnx
    import torch
    import modelopt.torch.quantization as mtq

    sys.path.insert(0, str(ROOT))
    from ran_edge.model.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    model = model.eval()
    faces = torch.from_numpy(np.load(calib))

    def forward_loop(m: torch.nn.Module) -> None:
        with torch.no_grad():
            for i in range(0, len(faces), 16):
                m(faces[i:i + 16])

    model = mtq.quantize(model, mtq.INT8_DEFAULT_CFG, forward_loop)
    graph = onnx.load(str(fp32)).graph
    inputs = [i.name for i in graph.input]
    outputs = [o.name for o in graph.output]
    axes = {n: {0: "batch"} for n in inputs + outputs}
    tmp = out.with_name(out.name + ".tmp")
    with torch.no_grad():
        torch.onnx.export(model, (faces[:2],), str(tmp), input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    tmp.replace(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["onnx-ptq", "torch-ptq"])
    ap.add_argument("--fp32", type=Path, required=True, help="the FP32 ONNX (its I/O names are kept)")
    ap.add_argument("--calib", type=Path, required=True, help="float32 [N,3,S,S] .npy of preprocessed faces")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path, help="ran-edge checkpoint (torch-ptq)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.mode == "onnx-ptq":
        onnx_ptq(args.fp32, args.calib, args.out)
    else:
        if args.checkpoint is None:
            ap.error("torch-ptq needs --checkpoint")
        torch_ptq(args.checkpoint, args.fp32, args.calib, args.out)
    print(f"{args.mode}: wrote {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
