"""Run any ran-edge artifact (TensorRT engine, ONNX, TorchScript) behind one interface.

Imports neither torch nor tensorrt; each backend imports its package when activated::

    from ran_edge.runtime import load
    clf = load("model.engine")          # or .onnx / .ts / a .pt checkpoint; backend="auto"|"ort"|... to override
    preds = clf.predict(faces)          # aligned faces, HxWx3 uint8 BGR
    preds[0].label, preds[0].probs, preds[0].region_weights
"""

from __future__ import annotations

from ran_edge.runtime.base import InputError, Runner, check_feed
from ran_edge.runtime.choice import LoadChoice, LoadRequest
from ran_edge.runtime.classifier import Backend, Classifier, Prediction, backend_for, load, make_runner, softmax
from ran_edge.runtime.ort_runner import OrtRunner
from ran_edge.runtime.torchscript_runner import TorchScriptRunner
from ran_edge.runtime.trt_runner import TrtRunner

__all__ = ["Backend", "Classifier", "InputError", "LoadChoice", "LoadRequest", "OrtRunner", "Prediction", "Runner", "TorchScriptRunner",
           "TrtRunner", "backend_for", "check_feed", "load", "make_runner", "softmax"]
