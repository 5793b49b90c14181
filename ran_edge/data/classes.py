"""Class-name lists of the datasets RAN was evaluated on (docs/model.md §9), in label-id order."""

from __future__ import annotations

#: RAF-DB basic, 0-based (file labels 1..7 minus one); the synthetic faces use the same order.
RAFDB_CLASSES: tuple[str, ...] = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")

#: FERPlus, in the order of the vote columns of fer2013new.csv.
FERPLUS_CLASSES: tuple[str, ...] = (
    "Neutral", "Happiness", "Surprise", "Sadness", "Anger", "Disgust", "Fear", "Contempt",
)

#: AffectNet expression ids 0..7 (8-class); the 7-class variant drops Contempt (id 7).
AFFECTNET8_CLASSES: tuple[str, ...] = (
    "Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt",
)
AFFECTNET7_CLASSES: tuple[str, ...] = AFFECTNET8_CLASSES[:7]

CLASS_SETS: dict[str, tuple[str, ...]] = {
    "rafdb": RAFDB_CLASSES,
    "synthetic": RAFDB_CLASSES,
    "ferplus": FERPLUS_CLASSES,
    "affectnet8": AFFECTNET8_CLASSES,
    "affectnet7": AFFECTNET7_CLASSES,
}
