"""Datasets: real dataset readers (:mod:`.readers`: RAF-DB, FERPlus, AffectNet, ImageFolder), synthetic faces
and videos (:mod:`.synthetic`), the ``--data`` spec (:mod:`.spec`), splits, test suites and challenge lists,
and model feeds for calibration (:mod:`.feeds`).

Every reader returns a :class:`ran_edge.data.dataset.FaceDataset`: indexable, giving
:class:`FaceSample` (uint8 BGR image, integer label, metadata).
"""
