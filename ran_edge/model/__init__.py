"""The RAN model in PyTorch (needs the 'export' or 'train' extra).

``from ran_edge.model import RAN, RanConfig, AttentionMode`` — see ran.py.
"""

from ran_edge.model.ran import RAN, AttentionMode, RanConfig, RanOutput

__all__ = ["RAN", "AttentionMode", "RanConfig", "RanOutput"]
