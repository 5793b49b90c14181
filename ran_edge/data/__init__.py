"""Datasets: real dataset readers (RAF-DB, FERPlus, AffectNet, ImageFolder) and synthetic faces.

Every reader returns a :class:`ran_edge.data.dataset.FaceDataset`: indexable, giving
:class:`FaceSample` (uint8 BGR image, integer label, metadata).
"""
