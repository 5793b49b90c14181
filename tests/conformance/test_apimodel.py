"""Parsing pybind11 signatures (pure; the real modules are exercised by test_mutations and make trt-conformance)."""

from __future__ import annotations

from ran_edge.conformance.apimodel import Param, Signature, clean_type, method_overloads, parse_signature_line


def test_parse_overload_line_with_default_and_module_prefix():
    line = ("2. create_network(self: tensorrt_bindings.tensorrt.Builder, flags: int = 0) "
            "-> tensorrt_bindings.tensorrt.INetworkDefinition")
    has_self, sig = parse_signature_line(line, "create_network")
    assert has_self and sig == Signature((Param("flags", "int", has_default=True),), "INetworkDefinition")
    assert parse_signature_line(line, "create_builder_config") is None


def test_nested_generic_types_and_arity():
    _, sig = parse_signature_line("get_tensor_profile_shape(self: tensorrt.ICudaEngine, name: str, profile_index: int) "
                                  "-> List[tensorrt.Dims]", "get_tensor_profile_shape")
    assert [p.name for p in sig.params] == ["name", "profile_index"] and sig.returns == "List[Dims]"
    assert sig.accepts(2, ()) and sig.accepts(1, ("profile_index",))
    assert not sig.accepts(1, ()) and not sig.accepts(3, ()) and not sig.accepts(2, ("other",))
    assert clean_type("Dict[str, tensorrt.tensorrt.Dims]") == "Dict[str, Dims]"


def test_every_overload_is_read_and_undocumented_callables_accept_anything():
    def fake():
        pass

    fake.__doc__ = ("f(*args, **kwargs)\nOverloaded function.\n\n1. f(self: tensorrt.Runtime, serialized_engine: buffer) "
                    "-> tensorrt.ICudaEngine\n\n2. f(self: tensorrt.Runtime, stream_reader: tensorrt.IStreamReader) "
                    "-> tensorrt.ICudaEngine\n")
    sigs = method_overloads(fake, "f")
    assert [s.params[0].name for s in sigs] == ["serialized_engine", "stream_reader"]
    fake.__doc__ = "no signature here"
    assert method_overloads(fake, "f")[0].accepts(5, ("x",))
