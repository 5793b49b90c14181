"""TensorRT API conformance without a GPU: ran-edge's TensorRT code walked against NVIDIA's real bindings.

:mod:`~ran_edge.conformance.wheels` fetches the bindings wheel of each target version and builds the
null TensorRT libraries they import against; :mod:`~ran_edge.conformance.apimodel` reads the real
module's classes, members and pybind11 signatures; :mod:`~ran_edge.conformance.proxy` stands in for
``tensorrt`` with proxies typed by those classes; :mod:`~ran_edge.conformance.scenarios` drives our
build and runtime paths; :mod:`~ran_edge.conformance.walk` runs one version in its own process;
:mod:`~ran_edge.conformance.cli` runs them all (``make trt-conformance``).

What it proves: every TensorRT name, attribute, enum member and call arity our code (and the pinned
Polygraphy loaders it calls) touches exists on the class it is used on, in each version. It never
runs TensorRT, so nothing here is a TensorRT result (no build, accuracy or speed).
"""
