from __future__ import annotations

import pytest

from ran_edge.artifact import Precision
from ran_edge.engine_contract.versions import (TrtVersion, detect_jetpack, fast_precisions, jetpack_from_l4t,
                                      parse_nv_tegra_release, resolve_built_precision)
from ran_edge.errors import RanEdgeError


def test_parse_and_order():
    assert TrtVersion.parse("10.3.0.30") == TrtVersion(10, 3, 0)
    assert TrtVersion.parse("11") == TrtVersion(11, 0, 0)
    assert str(TrtVersion.parse("8.6.1.6")) == "8.6.1" and str(TrtVersion(8, 5)) == "8.5"
    assert TrtVersion(8, 5) < TrtVersion(8, 6) < TrtVersion(10, 3) < TrtVersion(11, 0)
    with pytest.raises(RanEdgeError, match="expected MAJOR.MINOR"):
        TrtVersion.parse("latest")


@pytest.mark.parametrize("v, runtime, flags, calib, strong, strong_only, vc", [
    ("8.2", False, True, True, False, False, False),
    ("8.5", True, True, True, False, False, False),
    ("8.6", True, True, True, False, False, True),
    ("10.3", True, True, True, True, False, True),
    ("11.0", True, False, False, True, True, True),
])
def test_capabilities(v, runtime, flags, calib, strong, strong_only, vc):
    t = TrtVersion.parse(v)
    assert (t.has_python_runtime, t.has_precision_flags, t.has_implicit_calibrator, t.has_strongly_typed,
            t.strongly_typed_only, t.has_version_compatible) == (runtime, flags, calib, strong, strong_only, vc)


def test_jetpack_detection(tmp_path):
    assert parse_nv_tegra_release("# R35 (release), REVISION: 3.1, GCID: 32827747, BOARD: t186ref") == "35.3.1"
    assert jetpack_from_l4t("35.3.1") == "5.1.1" and jetpack_from_l4t("36.4.3") == "6.1/6.2"
    assert jetpack_from_l4t("32.7.1") == "4.6.x" and jetpack_from_l4t("99.1") is None
    f = tmp_path / "nv_tegra_release"
    f.write_text("# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic\n")
    assert detect_jetpack(str(f)) == "6.0 (L4T 36.3.0)"
    assert detect_jetpack(str(tmp_path / "absent")) is None


def test_fast_precisions():
    assert fast_precisions((5, 3)) == {Precision.FP32, Precision.FP16}  # Nano
    assert fast_precisions((6, 1)) == {Precision.FP32, Precision.INT8}  # GTX 10xx: slow FP16
    assert fast_precisions((7, 2)) == set(Precision)  # Xavier
    assert fast_precisions((8, 7)) == set(Precision)  # Orin
    assert fast_precisions((5, 2)) == {Precision.FP32}


def test_never_silent_downgrade():
    nano = fast_precisions((5, 3))
    assert resolve_built_precision(Precision.FP16, nano, False, False) == (Precision.FP16, "")
    with pytest.raises(RanEdgeError, match="no fast INT8 support; pass --allow-fallback to build fp16"):
        resolve_built_precision(Precision.INT8, nano, False, False, "Jetson Nano")
    built, note = resolve_built_precision(Precision.INT8, nano, True, False, "Jetson Nano")
    assert built is Precision.FP16 and "int8 requested" in note and "--allow-fallback" in note
    built, _ = resolve_built_precision(Precision.FP16, fast_precisions((6, 1)), True, False)
    assert built is Precision.FP32
    with pytest.raises(RanEdgeError, match="strongly typed network takes its precision from the ONNX"):
        resolve_built_precision(Precision.FP16, fast_precisions((5, 2)), True, True)
