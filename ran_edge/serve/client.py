"""``Client(url).predict(faces)``: the served model, with the local Classifier's answers.

Built on ``tritonclient`` (HTTP for ``http://host:port``, gRPC for ``grpc://host:port``). Faces go
as uint8 crops; the server preprocesses them with ran-edge's one implementation. Faces of
different sizes are sent as one request per size (a Triton tensor has one shape) and the answers
come back in the caller's order; a group larger than the model's ``max_batch_size`` is split. Probabilities use the same float64 softmax as the Classifier.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ran_edge.errors import RanEdgeError
from ran_edge.runtime.classifier import Prediction, softmax
from ran_edge.serve.server import INPUT, OUTPUTS, missing_serve_dependency


#: connection failures (refused, reset, DNS, timeouts: all OSError subclasses, incl. socket.timeout)
def _network_errors() -> tuple:
    """What a dropped connection raises: OS errors, and geventhttpclient's own (``HTTPConnectionClosed`` is none)."""
    errors: tuple = (OSError, ConnectionError, TimeoutError)
    try:
        from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

        errors += (HTTPConnectionClosed, HTTPParseError)
    except ImportError:
        pass
    return errors


_NETWORK_ERRORS = _network_errors()


def one_line(message: str) -> str:
    """A server error on one line: the last ``XxxError: ...`` of a relayed traceback, else the first line."""
    import re

    errors = re.findall(r"(\w+(?:Error|Exception): [^\n\"]+)", message)
    lines = [x.strip() for x in message.strip().splitlines() if x.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else "unknown error"
    return (errors[-1] if errors else lines[0])[:300]


class Client:
    """A client of a ``ran-edge serve`` (or compatible) Triton model.

    Args:
        url: ``http://127.0.0.1:8000`` or ``grpc://127.0.0.1:8001`` (no scheme: HTTP).
        model: the Triton model name.
        timeout_s: network timeout per request.

    One Client per thread: the HTTP client of ``tritonclient`` runs on gevent and must be used from
    the thread that made it.
    """

    def __init__(self, url: str, model: str = "ran", timeout_s: float = 60.0):
        self.model = model
        self.grpc = url.startswith("grpc://")
        address = url.split("://", 1)[-1].rstrip("/")
        try:
            if self.grpc:
                import tritonclient.grpc as tc
            else:
                import tritonclient.http as tc
        except ImportError as exc:
            raise missing_serve_dependency("tritonclient", "ran_edge.serve.Client", exc) from exc
        self._tc = tc
        self.url = url
        kwargs: Dict[str, Any] = {} if self.grpc else {"network_timeout": timeout_s, "connection_timeout": timeout_s}
        self._client = tc.InferenceServerClient(address, **kwargs)
        self._timeout = timeout_s
        self._max_batch: Optional[int] = None

    def is_ready(self) -> bool:
        """True when the server answers and the model is ready."""
        try:
            return bool(self._client.is_server_live() and self._client.is_model_ready(self.model))
        except Exception:  # connection refused and the like: not ready
            return False

    @property
    def max_batch(self) -> int:
        """The model's ``max_batch_size`` (0: no limit from Triton), read once from the server."""
        if self._max_batch is None:
            from tritonclient.utils import InferenceServerException

            try:
                cfg = (self._client.get_model_config(self.model, as_json=True)["config"] if self.grpc
                       else self._client.get_model_config(self.model))
            except InferenceServerException as exc:
                raise RanEdgeError(f"cannot read the config of model '{self.model}': {exc.message() or exc}") from exc
            except _NETWORK_ERRORS as exc:
                raise self._unreachable(exc) from exc
            self._max_batch = int(cfg.get("max_batch_size", 0))
        return self._max_batch

    def infer_raw(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        """Send one ``[N,H,W,3]`` array as is; returns the output arrays. Server errors raise RanEdgeError."""
        from tritonclient.utils import InferenceServerException, np_to_triton_dtype

        batch = np.asarray(batch)
        if batch.size == 0:  # PyTriton's stub fails on zero-size tensors with a traceback: refuse it here
            raise RanEdgeError(f"{INPUT}: got {batch.dtype} {list(batch.shape)}, an empty tensor; expected [N,H,W,3] uint8 "
                               f"faces with N, H, W >= 1")
        inp = self._tc.InferInput(INPUT, list(batch.shape), np_to_triton_dtype(batch.dtype))
        inp.set_data_from_numpy(batch)
        outs = [self._tc.InferRequestedOutput(n) for n in OUTPUTS]
        try:
            kwargs = {"client_timeout": self._timeout} if self.grpc else {}
            result = self._client.infer(self.model, [inp], outputs=outs, **kwargs)
        except InferenceServerException as exc:
            raise RanEdgeError(f"server rejected the request: {one_line(exc.message() or str(exc))}") from exc
        except _NETWORK_ERRORS as exc:
            raise self._unreachable(exc) from exc
        return {n: result.as_numpy(n) for n in OUTPUTS}

    def predict(self, faces: Union[Sequence[np.ndarray], np.ndarray]) -> List[Prediction]:
        """Aligned face crops (list of ``HxWx3`` uint8 BGR, or ``NxHxWx3``) → one prediction each."""
        items = list(faces) if not (isinstance(faces, np.ndarray) and faces.ndim == 3) else [faces]
        if not items:
            raise RanEdgeError("got an empty batch of faces, expected at least one HxWx3 uint8 face")
        groups: Dict[tuple, List[int]] = {}
        for i, f in enumerate(items):
            if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
                got = f"{f.dtype} {list(f.shape)}" if isinstance(f, np.ndarray) else type(f).__name__
                raise RanEdgeError(f"face {i}: got {got}, expected HxWx3 uint8 (BGR)")
            groups.setdefault(f.shape, []).append(i)
        result: List[Any] = [None] * len(items)
        step = self.max_batch or len(items)
        chunks = [idx[s:s + step] for idx in groups.values() for s in range(0, len(idx), step)]
        for idx in chunks:
            out = self.infer_raw(np.ascontiguousarray(np.stack([items[i] for i in idx])))
            logits = out["logits"].astype(np.float32)
            probs = softmax(logits)
            for row, i in enumerate(idx):
                label = out["label"][row][0]
                top = int(probs[row].argmax())
                result[i] = Prediction(label.decode() if isinstance(label, bytes) else str(label), top, probs[row],
                                       out["region_weights"][row].astype(np.float32), logits[row])
        return result

    def _unreachable(self, exc: BaseException) -> RanEdgeError:
        why = " ".join(str(exc).split()) or type(exc).__name__
        return RanEdgeError(f"cannot reach the server at {self.url} ({type(exc).__name__}: {why[:200]}); expected a running "
                            f"'ran-edge serve' there (check the URL and that the server is up)")

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
