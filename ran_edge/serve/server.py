"""Serve a ran-edge Classifier through a real Triton Inference Server (PyTriton), HTTP and gRPC.

The Classifier (ONNX Runtime here, TensorRT on a GPU) is bound into Triton's Python backend by
PyTriton with dynamic batching. The served model takes what the local Classifier takes:

* input ``faces_uint8``  UINT8 ``[N,H,W,3]`` aligned face crops (BGR), any H, W;
* outputs ``logits`` FP32 ``[N,C]``, ``region_weights`` FP32 ``[N,K]``, ``label`` BYTES ``[N,1]``.

Requests that Triton merges into one batch are preprocessed each (the one implementation,
:func:`ran_edge.model_input.model_input`) and run as ONE model call, then split back.

**The stub fix.** PyTriton's ``triton_python_backend_stub`` is linked against
``libpython3.X.so.1.0`` and the dynamic loader finds the *system* one (Debian's 3.11.2) even when
the server runs under another build of the same minor version (pyenv's 3.11.7). The stub then
runs 3.11.7's standard library on 3.11.2's C core and dies in multiprocessing's resource tracker
(``'_thread.RLock' object has no attribute '_recursion_count'``). :func:`stub_environment` puts
the running interpreter's own ``LIBDIR`` first on ``LD_LIBRARY_PATH`` (inherited by tritonserver
and its stubs), which makes both interpreters work. If the stub still cannot start, the error
names the cause and the fix (:class:`ServeError`).
"""

from __future__ import annotations

import math
import os
import re
import signal
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ran_edge.errors import MissingDependencyError, RanEdgeError

INPUT = "faces_uint8"
OUTPUTS = ("logits", "region_weights", "label")


class ServeError(RanEdgeError):
    """The Triton server or its Python-backend stub could not start."""


#: where to install the serving packages (nvidia-pytriton pins numpy<2, so not into the main venv)
SERVE_ENV_HINT = "nvidia-pytriton needs numpy<2: use a separate venv ('make serve-env', then .venv-serve/bin/ran-edge serve ...)"


def missing_serve_dependency(module: str, feature: str, exc: ImportError) -> MissingDependencyError:
    """MissingDependencyError for the ``serve`` extra, with the separate-venv hint."""
    err = MissingDependencyError(module, "serve", feature, exc)
    err.args = (f"{err}; {SERVE_ENV_HINT}",)
    return err


@dataclass(frozen=True)
class ServeOptions:
    """How ``serve`` runs Triton.

    Attributes:
        http_port: HTTP port; gRPC and metrics default to the next two.
        host: address to bind (loopback by default; pass 0.0.0.0 deliberately to expose it).
        max_batch: Triton ``max_batch_size`` in faces (>= 1).
        instances: model instances, each with its own Classifier (runner).
        dynamic_batching: merge concurrent requests (``max_queue_delay_microseconds``, preferred sizes);
            False: no Triton batching at all (``max_batch_size`` 0, each request runs alone).
        queue_delay_us: how long the batcher may wait to fill a batch.
        preferred_batch: preferred batch sizes (empty: the batcher fills up to ``max_batch``).
        model_name: the Triton model name.
        backend: runtime backend (``ort``/``trt``/``torchscript``); default from the artifact suffix.
        threads: ONNX Runtime intra-op threads per instance (None: ORT's default).
        exit_timeout_s: the drain bound (``--drain-timeout``): at a stop, Triton refuses new requests and answers those
            it has accepted (running or queued) for at most this long, then exits.
    """

    http_port: int = 8000
    grpc_port: Optional[int] = None
    metrics_port: Optional[int] = None
    host: str = "127.0.0.1"
    max_batch: int = 32
    instances: int = 1
    dynamic_batching: bool = True
    queue_delay_us: int = 500
    preferred_batch: Tuple[int, ...] = ()
    model_name: str = "ran"
    backend: Optional[str] = None
    threads: Optional[int] = None
    exit_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise RanEdgeError(f"--max-batch: got {self.max_batch}, expected >= 1 (faces per Triton batch)")
        if self.instances < 1:
            raise RanEdgeError(f"--instances: got {self.instances}, expected >= 1")
        for what, port in (("--port", self.http_port), ("grpc port", self.grpc_port), ("metrics port", self.metrics_port)):
            if port is not None and not 0 < port < 65536:
                raise RanEdgeError(f"{what}: got {port}, expected 1..65535")
        if not 0 <= self.exit_timeout_s <= 3600:
            raise RanEdgeError(f"--drain-timeout: got {self.exit_timeout_s}, expected 0..3600 seconds")
        if any(b < 1 or b > self.max_batch for b in self.preferred_batch):
            raise RanEdgeError(f"--preferred-batch {list(self.preferred_batch)}: expected sizes in 1..{self.max_batch}")

    @property
    def ports(self) -> Tuple[int, int, int]:
        """(http, grpc, metrics)."""
        return (self.http_port, self.grpc_port or self.http_port + 1, self.metrics_port or self.http_port + 2)


def stub_environment(env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """``env`` with this interpreter's libpython folder first on ``LD_LIBRARY_PATH`` (see the module doc).

    Unchanged when the interpreter is statically linked (no shared libpython to prefer).
    """
    env = dict(os.environ if env is None else env)
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libdir or not soname:
        return env
    if not (Path(libdir) / soname).is_file():
        return env
    parts = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    if not parts or parts[0] != libdir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([libdir] + [p for p in parts if p != libdir])
    return env


def explain_start_failure(message: str) -> str:
    """One line saying why the server or the stub did not start, and what to do."""
    if "_recursion_count" in message:
        return ("the Triton Python-backend stub loaded a libpython that does not match this interpreter "
                f"({sysconfig.get_config_var('LIBDIR')}); run 'ran-edge serve' from a venv made with the "
                "system python3.11 (make serve-env) or a Python built with --enable-shared")
    if "Address already in use" in message or "address in use" in message.lower():
        return "a port is already in use; pick another with --port"
    errors = re.findall(r"(\w+(?:Error|Exception): [^\\\n\"]+)", message)
    return (errors[-1] if errors else message.strip().splitlines()[-1] if message.strip() else "unknown error")[:300]


def check_request(batch: Any) -> np.ndarray:
    """A request's ``faces_uint8`` as it must be before preprocessing: ``[N,H,W,3]`` uint8 with N, H, W >= 1
    and H, W <= 4096. Raises ``ValueError`` with one line (what was sent, what is expected)."""
    arr = np.asarray(batch)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3 or min(arr.shape[:3], default=0) < 1 or max(arr.shape[1:3]) > 4096:
        raise ValueError(f"{INPUT}: got {arr.dtype} {list(arr.shape)}, expected [N,H,W,3] uint8 faces with N, H, W >= 1 "
                         f"and H, W <= 4096")
    return arr


def _input_of(request: Any) -> Any:
    try:
        return request[INPUT]
    except (KeyError, TypeError, IndexError):
        raise ValueError(f"request without {INPUT}; expected one [N,H,W,3] uint8 input named {INPUT}") from None


class Drain:
    """In-flight request count of the infer functions. A stop first lets Triton drain (it refuses new requests and
    answers the accepted ones, :meth:`TritonServer.stop`); then :meth:`close` refuses whatever still reaches an infer
    function (one line) and :meth:`wait` lets those already running finish before the runners are released."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._open = True

    def enter(self) -> None:
        """Count one request in; ``ValueError`` once closed."""
        with self._cond:
            if not self._open:
                raise ValueError("the server is shutting down; expected a retry against a running server")
            self._in_flight += 1

    def leave(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._open = False

    def wait(self, timeout_s: float) -> bool:
        """True when every in-flight request answered within ``timeout_s``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)

    @property
    def in_flight(self) -> int:
        return self._in_flight


def make_infer_func(classifier: Any, drain: Optional[Drain] = None) -> Callable[[List[Any]], List[Dict[str, np.ndarray]]]:
    """PyTriton infer function over one Classifier: a list of requests → one response dict each
    (counted in ``drain`` when given, so a stop can let them finish)."""
    if drain is None:
        return _infer_func(classifier)
    inner = _infer_func(classifier)

    def counted(requests: List[Any]) -> List[Dict[str, np.ndarray]]:
        drain.enter()
        try:
            return inner(requests)
        finally:
            drain.leave()

    return counted


def _infer_func(classifier: Any) -> Callable[[List[Any]], List[Dict[str, np.ndarray]]]:
    from ran_edge.model_input import model_input

    def infer(requests: List[Any]) -> List[Dict[str, np.ndarray]]:
        checked = [check_request(_input_of(r)) for r in requests]  # before any preprocessing or inference
        parts = [model_input(a, classifier.meta) for a in checked]
        x = np.concatenate(parts) if len(parts) > 1 else parts[0]
        k = classifier.meta.preset.num_regions if classifier.input_kind.value == "regions" else 1
        preds = classifier._run(x)
        out, start = [], 0
        for p in parts:
            n = p.shape[0] // k
            chunk = preds[start:start + n]
            start += n
            out.append({"logits": np.stack([c.logits for c in chunk]),
                        "region_weights": np.stack([c.region_weights for c in chunk]),
                        "label": np.array([[c.label.encode()] for c in chunk], dtype=object)})
        return out

    return infer


class TritonServer:
    """A running Triton server with the ran-edge model bound (context manager; ``stop()`` is idempotent)."""

    def __init__(self, artifact: Union[str, Path], options: ServeOptions = ServeOptions()):
        self.artifact = Path(artifact)
        self.options = options
        self._triton: Any = None
        self._classifiers: List[Any] = []
        self.drain = Drain()

    @property
    def http_url(self) -> str:
        return f"http://{self.options.host}:{self.options.ports[0]}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.options.host}:{self.options.ports[1]}"

    def start(self) -> "TritonServer":
        """Load the artifact (one Classifier per instance), start Triton and wait until the model is ready."""
        try:
            from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
            from pytriton.triton import Triton, TritonConfig
        except ImportError as exc:
            raise missing_serve_dependency("pytriton", "ran-edge serve", exc) from exc
        from ran_edge.runtime import load

        opts = self.options
        runner_opts = {"threads": opts.threads} if opts.threads else {}
        self._classifiers = [load(self.artifact, opts.backend, **runner_opts) for _ in range(opts.instances)]
        meta = self._classifiers[0].meta
        os.environ.update(stub_environment())
        http, grpc, metrics = opts.ports
        config = TritonConfig(http_address=opts.host, http_port=http, grpc_address=opts.host, grpc_port=grpc,
                              metrics_address=opts.host, metrics_port=metrics,
                              exit_timeout_secs=int(math.ceil(opts.exit_timeout_s)))
        c, k = len(meta.class_names), meta.preset.num_regions
        if opts.dynamic_batching:
            batcher = DynamicBatcher(max_queue_delay_microseconds=opts.queue_delay_us,
                                     preferred_batch_size=list(opts.preferred_batch) or None)
            model_config = ModelConfig(batching=True, max_batch_size=opts.max_batch, batcher=batcher)
            lead: Tuple[int, ...] = ()
        else:  # no Triton batching: max_batch_size 0, each request runs alone with its own N
            model_config, lead = ModelConfig(batching=False), (-1,)
        try:
            self._triton = Triton(config=config)
            self._triton.bind(model_name=opts.model_name, infer_func=[make_infer_func(clf, self.drain) for clf in self._classifiers],
                              inputs=[Tensor(name=INPUT, dtype=np.uint8, shape=lead + (-1, -1, 3))],
                              outputs=[Tensor(name="logits", dtype=np.float32, shape=lead + (c,)),
                                       Tensor(name="region_weights", dtype=np.float32, shape=lead + (k,)),
                                       Tensor(name="label", dtype=bytes, shape=lead + (1,))],
                              config=model_config, strict=True)
            self._triton.run()
        except Exception as exc:  # PyTriton / tritonclient errors carry the server's log text
            self.stop()
            raise ServeError(f"Triton did not start: {explain_start_failure(str(exc))}") from exc
        return self

    def stop(self) -> None:
        """The drain: Triton stops accepting (new requests are refused with "server not ready") and answers every
        request it accepted, running or queued, for at most ``exit_timeout_s``; then Triton exits, the infer functions
        are closed and the runners released. Idempotent."""
        triton, self._triton = self._triton, None
        if triton is not None:
            _allow_drain(self.options.exit_timeout_s)
            triton.stop()  # SIGINT to tritonserver: its own --exit-timeout-secs drain, our infer functions still open
        self.drain.close()
        self.drain.wait(max(1.0, self.options.exit_timeout_s))
        for clf in self._classifiers:
            clf.close()
        self._classifiers = []

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _allow_drain(exit_timeout_s: float) -> None:
    """PyTriton kills tritonserver when it has not exited 30 s after the stop signal: give it the drain time plus
    a margin, so that ``--drain-timeout`` and not PyTriton bounds the drain."""
    try:
        from pytriton.server import triton_server
    except ImportError:  # pragma: no cover - serve needs PyTriton anyway
        return
    triton_server.SERVER_OUTPUT_TIMEOUT_SECS = max(30, int(math.ceil(exit_timeout_s)) + 15)


def serve_forever(artifact: Union[str, Path], options: ServeOptions, log: Callable[[str], None] = print) -> int:
    """Start the server, block until SIGTERM/SIGINT, then shut down cleanly; returns 0."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with TritonServer(artifact, options) as server:
            log(f"serving '{options.model_name}' from {artifact}: HTTP {server.http_url}, gRPC {server.grpc_url} "
                f"(max batch {options.max_batch}, dynamic batching {'on' if options.dynamic_batching else 'off'}, "
                f"{options.instances} instance(s)); SIGTERM or Ctrl-C stops it")
            while not stop.wait(0.5):
                if server._triton is not None and not server._triton.is_alive():
                    raise ServeError("the Triton server exited unexpectedly")
            log(f"shutting down: draining (new requests refused, accepted ones answered for at most "
                f"{options.exit_timeout_s:g} s)")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    log("stopped")
    return 0
