"""DeepStream ``nvinfer`` secondary-classifier config for a ran-edge engine (UNVERIFIED here).

No DeepStream on this machine: the keys follow the ``Gst-nvinfer`` property names
(``gstnvinfer_property_parser.h``), and nothing here has been run by nvinfer. nvinfer scales every
channel by one factor, ``y = net-scale-factor * (x - offsets[c])``, so ran-edge preprocessing
``(x * scale - mean[c]) / std[c]`` maps exactly only when the three ``std`` are equal:
``net-scale-factor = scale / std`` and ``offsets[c] = mean[c] / scale``. nvinfer resizes the object
crop itself (bilinear, ``scaling-filter=1``), which is close to, not bit-equal with, ran-edge's
half-pixel resampling. The engine's ``logits`` are raw scores (no softmax), hence a very low
``classifier-threshold``. A ``regions`` engine needs the fused region-batch kernel, which nvinfer
cannot run, and is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from ran_edge.artifact import ArtifactMeta, InputKind, Precision, read_sidecar
from ran_edge.errors import RanEdgeError
from ran_edge.preprocess import ColorOrder

#: ran-edge precision → nvinfer network-mode (0 FP32, 1 INT8, 2 FP16)
NETWORK_MODE = {Precision.FP32: 0, Precision.INT8: 1, Precision.FP16: 2}


def check_deepstream(meta: ArtifactMeta) -> None:
    """Refuse what nvinfer cannot run: not an engine, a ``regions`` input, unequal ``std``."""
    if meta.format != "engine":
        raise RanEdgeError(f"--deepstream: got a '{meta.format}' artifact, expected a TensorRT .engine "
                           "(build one with 'ran-edge build-engine')")
    render_nvinfer_config(meta, "model.plan", "labels.txt")


def render_nvinfer_config(meta: ArtifactMeta, engine_file: str, labels_file: str, batch_size: int = 16,
                          gie_id: int = 2, operate_on_gie_id: int = 1) -> str:
    """The ``[property]`` group of an nvinfer secondary classifier for a ``faces`` engine."""
    if InputKind(meta.input_kind) is not InputKind.FACES:
        raise RanEdgeError("--deepstream: a 'regions' engine takes the fused kernel's region batch, which nvinfer cannot "
                           "make; build the engine from a 'faces' export")
    spec = meta.preprocess
    if len(set(spec.std)) != 1:
        raise RanEdgeError(f"--deepstream: nvinfer has one scale factor for all channels, the artifact's std is "
                           f"{list(spec.std)}, expected three equal values")
    s = spec.face_size
    outputs = [o.name for o in meta.outputs]
    logits = "logits" if "logits" in outputs else outputs[0]
    offsets = ";".join(f"{m / spec.scale:.6g}" for m in spec.mean)
    lines = [
        "# ran-edge: DeepStream nvinfer secondary classifier (UNVERIFIED: written from the nvinfer docs, not run here)",
        "[property]",
        "gpu-id=0",
        f"model-engine-file={engine_file}",
        f"labelfile-path={labels_file}",
        f"batch-size={batch_size}",
        f"network-mode={NETWORK_MODE[Precision(meta.precision)]}",
        "network-type=1",
        "process-mode=2",
        f"gie-unique-id={gie_id}",
        f"operate-on-gie-id={operate_on_gie_id}",
        f"infer-dims=3;{s};{s}",
        "network-input-order=0",
        f"model-color-format={0 if spec.color_order is ColorOrder.RGB else 1}",
        f"net-scale-factor={spec.scale / spec.std[0]:.10g}",
        f"offsets={offsets}",
        "maintain-aspect-ratio=0",
        "scaling-filter=1",
        f"output-blob-names={logits}",
        "classifier-threshold=-1e30",
        "classifier-async-mode=0",
    ]
    return "\n".join(lines) + "\n"


def write_deepstream(engine: Union[str, Path], out_dir: Union[str, Path], batch_size: int = 16) -> Path:
    """Write ``nvinfer_ran.txt`` and ``labels.txt`` for ``engine`` into ``out_dir``; returns the config path.

    nvinfer's classifier labels file takes the labels of one output on one line, separated by ';'.
    """
    engine, out_dir = Path(engine), Path(out_dir)
    meta = read_sidecar(engine)
    check_deepstream(meta)
    from ran_edge.outputs import ResultSet

    labels, cfg = out_dir / "labels_nvinfer.txt", out_dir / "nvinfer_ran.txt"
    with ResultSet([labels, cfg], inputs=[engine]) as rs:  # the config and its labels appear together
        rs.path(labels).write_text(";".join(meta.class_names) + "\n")
        rs.path(cfg).write_text(render_nvinfer_config(meta, str(engine.resolve()), str(labels.resolve()), batch_size))
        rs.commit()
    return cfg
