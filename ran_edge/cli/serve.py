"""ran-edge serve: the Classifier inside a real Triton server (PyTriton), HTTP + gRPC, dynamic batching."""

from __future__ import annotations

import argparse

HELP = "serve an artifact with Triton Inference Server through PyTriton (HTTP + gRPC, dynamic batching; extra 'serve')"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", help="model.onnx / model.engine / model.ts with its .json")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (gRPC: port+1, metrics: port+2; default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--max-batch", type=int, default=32, help="max faces per Triton batch (default 32)")
    p.add_argument("--instances", type=int, default=1, help="model instances, one runner each (default 1)")
    p.add_argument("--queue-delay-us", type=int, default=500, help="dynamic batching queue delay (default 500)")
    p.add_argument("--no-dynamic-batching", action="store_true", help="no Triton batching: each request runs alone (max_batch_size 0)")
    p.add_argument("--name", default="ran", help="Triton model name (default: ran)")
    p.add_argument("--backend", choices=("ort", "trt", "torchscript"), default=None, help="runtime backend (default: from the suffix)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads per instance")
    p.add_argument("--drain-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGTERM or Ctrl-C: stop accepting requests, answer those already accepted for at most this "
                        "long, then exit (default 30)")


def run(args: argparse.Namespace) -> int:
    from ran_edge.serve.server import ServeOptions, serve_forever

    options = ServeOptions(http_port=args.port, host=args.host, max_batch=args.max_batch, instances=args.instances,
                           dynamic_batching=not args.no_dynamic_batching, queue_delay_us=args.queue_delay_us,
                           model_name=args.name, backend=args.backend, threads=args.threads,
                           exit_timeout_s=args.drain_timeout)
    return serve_forever(args.artifact, options, log=lambda s: print(f"ran-edge serve: {s}", flush=True))
