"""Make a QAT ONNX graph store and compute its weights in int8.

tf2onnx folds TFMOT's weight fake-quant into float initializers that already sit on the int8 grid,
and keeps Quantize/DequantizeLinear pairs for activations only. onnxruntime then runs float
MatMul/Conv and the file is no smaller than fp32. Here each such weight becomes an int8 initializer
(symmetric, per output channel, scale from its largest magnitude) behind a DequantizeLinear, the
QDQ form that onnxruntime fuses into int8 kernels. The change to any weight is at most half a
quantization step (zero for weights trained on the grid); ``quantize_weights`` reports the largest.
"""

from __future__ import annotations

import numpy as np

COMPUTE_OPS = {"MatMul": (1, -1), "Gemm": (1, -1), "Conv": (1, 0)}  # op: (weight input index, channel axis)


def _on_grid(w: np.ndarray, axis: int):
    """int8 weights, scale, broadcast shape and axis: per-tensor if ``w`` already sits on a per-tensor
    symmetric grid (TFMOT's default for Dense), else per output channel."""
    scale = np.asarray([max(float(np.abs(w).max()), 1e-12) / 127.0], dtype=np.float32)
    ratio = w / scale[0]
    if np.abs(ratio - np.round(ratio)).max() < 1e-2:
        return np.clip(np.round(ratio), -127, 127).astype(np.int8), scale, [1] * w.ndim, 0
    reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
    scale = (np.maximum(np.abs(w).max(axis=reduce_axes), 1e-12) / 127.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    return np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8), scale, shape, axis


def quantize_weights(proto) -> float:
    """Rewrite ``proto`` in place; returns the largest weight change (in weight units)."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    worst, new_nodes = 0.0, []
    for node in graph.node:
        if node.op_type not in COMPUTE_OPS:
            continue
        index, axis = COMPUTE_OPS[node.op_type]
        if len(node.input) <= index or node.input[index] not in inits:
            continue
        activation = producers.get(node.input[0])
        if activation is None or activation.op_type != "DequantizeLinear":
            continue  # only where the activation is quantized already: keep float graphs float
        if node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute):
            axis = 0
        w = numpy_helper.to_array(inits[node.input[index]]).astype(np.float32)
        q, scale, shape, axis_used = _on_grid(w, axis % w.ndim)
        worst = max(worst, float(np.abs(q * scale.reshape(shape) - w).max()))
        base = node.input[index]
        graph.initializer.extend([
            numpy_helper.from_array(q, f"{base}_int8"),
            numpy_helper.from_array(scale if scale.size > 1 else scale.reshape(()), f"{base}_scale"),
            numpy_helper.from_array(np.zeros(scale.shape if scale.size > 1 else (), dtype=np.int8), f"{base}_zero"),
        ])
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{base}_int8", f"{base}_scale", f"{base}_zero"],
                                          [f"{base}_dq"], name=f"{base}_DequantizeLinear", axis=axis_used))
        node.input[index] = f"{base}_dq"
    used = {i for n in graph.node for i in n.input}
    for name in [t.name for t in graph.initializer if t.name not in used and t.name in inits]:
        if not any(name in n.input for n in new_nodes):
            graph.initializer.remove(inits[name])
    # DequantizeLinear nodes go first: the graph stays topologically sorted
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return worst
