"""What one inference of an ONNX artifact costs, counted from its graph at batch 1: multiply-accumulates (MACs) in
Conv, ConvTranspose, Gemm and MatMul, and the elements and bytes of its constant tensors (the weights read on
every inference). Element-wise work (activations, additions, normalisation) is not counted: it is a few percent of
a convolutional network's arithmetic.

Emulated timings say nothing of a board's speed; these counts, beside a published board figure for a comparable
model (``ANCHORS``), do say roughly where a model stands.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    macs: int
    weights: int  # elements of the graph's constant tensors
    weight_bytes: int
    file_bytes: int


@dataclass(frozen=True)
class Anchor:
    model: str
    macs: int
    weights: int
    board: str
    ms: float
    how: str
    source: str


# Published figures for comparable models on the boards the profiles name.
ANCHORS = (
    Anchor("MobileNet v1 1.0_224", 569_000_000, 4_200_000, "Raspberry Pi 4 (Cortex-A72, 1.5 GHz)", 87.0,
           "TFLite on the CPU", "MACs and weights: Howard et al. 2017, table 8; time: dev.to/tildalice, "
           "'MobileNet vs EfficientNet-Lite: Pi 4 First Model 38ms Gap'"),
)


def _dims(value_info) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in value_info.type.tensor_type.shape.dim]


def onnx_cost(path: str | os.PathLike) -> Cost:
    import onnx
    from onnx import shape_inference

    model = onnx.load(os.fspath(path))
    for tensor in model.graph.input:  # batch 1: a free first dimension counts once
        dims = tensor.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    graph = shape_inference.infer_shapes(model).graph
    shapes = {v.name: _dims(v) for v in (*graph.input, *graph.value_info, *graph.output)}
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    for node in graph.node:  # constants written as Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            shapes[node.output[0]] = list(node.attribute[0].t.dims)
    macs = 0
    for node in graph.node:
        out = shapes.get(node.output[0])
        ins = [shapes.get(name) for name in node.input]
        if out is None or any(s is None for s in ins[:2]):
            continue
        if node.op_type == "Conv":  # each output element: (Cin / groups) x kernel
            macs += math.prod(out) * math.prod(ins[1][1:])
        elif node.op_type == "ConvTranspose":  # each input element spreads over (Cout / groups) x kernel
            macs += math.prod(ins[0]) * math.prod(ins[1][1:])
        elif node.op_type in ("MatMul", "Gemm"):
            trans_a = any(a.name == "transA" and a.i for a in node.attribute)
            k = ins[0][-2] if trans_a and len(ins[0]) >= 2 else ins[0][-1]
            macs += math.prod(out) * k
    weights = sum(math.prod(t.dims) for t in graph.initializer)
    weight_bytes = sum(len(t.raw_data) or math.prod(t.dims) * 4 for t in graph.initializer)
    return Cost(macs=macs, weights=weights, weight_bytes=weight_bytes, file_bytes=os.path.getsize(path))
