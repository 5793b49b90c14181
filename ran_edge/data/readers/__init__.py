"""Readers of the real datasets: RAF-DB, FERPlus, AffectNet and ImageFolder trees.

Each module reads one layout and returns a :class:`ran_edge.data.dataset.FaceDataset`; splits come from
:mod:`ran_edge.data.splits`. :func:`ran_edge.data.spec.open_dataset` picks the reader for a ``--data`` spec.
"""
