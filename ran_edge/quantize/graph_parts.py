"""Which nodes of an exported RAN graph are the region crop, the trunk and the attention head (torch-free).

* ``crop``: everything upstream of the first Conv — the two MatMuls with the constant interpolation
  matrices (and their Unsqueeze/Reshape). They resample the *input image*; quantizing them would
  quantize the image itself. Empty for a ``regions`` graph.
* ``head``: everything downstream of the trunk's global pooling — attention (Gemm/MatMul, Sigmoid,
  Softmax across regions, normalised sums) and the classifier.
* ``trunk``: the rest (the ResNet-18 convolutions).
"""

from __future__ import annotations

from typing import Any, Sequence

POOL_OPS = ("GlobalAveragePool", "ReduceMean")


def ensure_node_names(model: Any) -> Any:
    """Give every unnamed node a unique name (``<op>_<index>``), in place; node-level options need names."""
    used = {n.name for n in model.graph.node if n.name}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)
    return model


def graph_links(nodes: Sequence[Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``(producer, consumers)`` of a node list: the node writing each tensor, and the nodes reading it (in order)."""
    producer = {o: n for n in nodes for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return producer, consumers


def node_groups(model: Any) -> dict[str, list[str]]:
    """``{"crop": [...], "trunk": [...], "head": [...]}`` node names, in graph order."""
    nodes = list(model.graph.node)
    producer, consumers = graph_links(nodes)
    first_conv = next((n for n in nodes if n.op_type == "Conv"), None)
    crop: set[str] = set()
    stack = list(first_conv.input) if first_conv is not None else []
    while stack:
        p = producer.get(stack.pop())
        if p is not None and p.name not in crop:
            crop.add(p.name)
            stack.extend(p.input)
    pools = [n for n in nodes if n.op_type in POOL_OPS]
    head: set[str] = set()
    stack = list(pools[-1].output) if pools else []
    while stack:
        for c in consumers.get(stack.pop(), []):
            if c.name not in head:
                head.add(c.name)
                stack.extend(c.output)
    return {
        "crop": [n.name for n in nodes if n.name in crop],
        "trunk": [n.name for n in nodes if n.name not in crop and n.name not in head],
        "head": [n.name for n in nodes if n.name in head],
    }
