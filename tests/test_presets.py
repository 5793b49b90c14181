import json

import pytest

from ran_edge.errors import RanEdgeError
from ran_edge.presets import AFFECTNET8, FERPLUS6, RegionPreset, get_preset


def test_builtin_presets_match_spec():
    assert FERPLUS6.num_regions == 6 and FERPLUS6.full_face_index == 5
    assert FERPLUS6.boxes[5].box == (0.0, 0.0, 1.0, 1.0)
    assert FERPLUS6.boxes[2].box == (0.125, 0.25, 0.875, 1.0)
    assert FERPLUS6.rb_margin == pytest.approx(0.1)
    assert AFFECTNET8.num_regions == 8 and AFFECTNET8.full_face_index == 7
    assert AFFECTNET8.boxes[6].box == (0.125, 0.0, 0.875, 0.75)
    assert AFFECTNET8.rb_margin == pytest.approx(0.03)
    assert FERPLUS6.crop_indices == (0, 1, 2, 3, 4)


def test_user_preset_json_roundtrip(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "mine", "full_face_index": 0,
                                "boxes": [{"name": "f", "box": [0, 0, 1, 1]}, {"name": "eyes", "box": [0, 0, 1, 0.5]}]}))
    p = get_preset(str(path))
    assert p.name == "mine" and p.num_regions == 2 and p.rb_margin == pytest.approx(0.1)
    assert RegionPreset.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("boxes,full,msg", [
    ([[0, 0, 1, 1], [0, 0, 1.2, 0.5]], 0, "outside"),
    ([[0, 0, 1, 1], [0.5, 0, 0.5, 0.5]], 0, "positive size"),
    ([[0, 0, 1, 0.9], [0, 0, 1, 0.5]], 0, "full face"),
    ([[0, 0, 1, 1], [0, 0, 1, 1]], 0, "exactly one"),
    ([[0, 0, 1, 1], [0, 0, 1, 0.5]], 1, "full face"),
    ([[0, 0, 1, 1], [0, 0, 1, 0.5]], 5, "out of range"),
])
def test_invalid_user_presets(tmp_path, boxes, full, msg):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"full_face_index": full, "boxes": [{"name": str(i), "box": b} for i, b in enumerate(boxes)]}))
    with pytest.raises(RanEdgeError, match=msg):
        get_preset(str(path))


def test_unknown_preset_and_bad_json(tmp_path):
    with pytest.raises(RanEdgeError, match="unknown region preset"):
        get_preset("nope")
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(RanEdgeError, match="not a readable JSON"):
        get_preset(str(bad))
