"""ONNX post-training static int8 quantization (onnxruntime ``quantize_static``, QDQ) and the
sensitivity analysis that finds which nodes to keep in float.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np

from edgeward.export.artifacts import ArtifactSpec, Calibration


# input values a calibration batch holds at most: onnxruntime keeps a batch's activations alive while it
# calibrates, so big inputs go in fewer rows a batch (docs/decisions.md)
BATCH_VALUES = 1 << 20


class _Reader:
    """CalibrationDataReader over real task samples (by input name), in small batches (at most 50 rows and
    ``BATCH_VALUES`` input values)."""

    def __init__(self, feeds: dict[str, np.ndarray], batch: int = 50):
        per_row = sum(int(np.prod(v.shape[1:])) for v in feeds.values())
        batch = max(1, min(batch, BATCH_VALUES // max(per_row, 1)))
        # equal batches: the histogram calibrators (entropy, percentile) stack them
        n = len(next(iter(feeds.values())))
        usable = max(batch, n - n % batch) if n >= batch else n
        batch = min(batch, usable)
        self._batches = iter([{k: v[i : i + batch] for k, v in feeds.items()} for i in range(0, usable, batch)])

    def get_next(self):
        return next(self._batches, None)


# Output activations kept in float: quantizing a probability to 8 bits ties the scores that the task
# metric ranks (docs/decisions.md).
FLOAT_OUTPUT_OPS = ("Sigmoid", "Softmax", "LogSoftmax")


def preprocess(fp32: bytes) -> bytes:
    """onnxruntime's pre-quantization pass (shape inference, MatMul+Add fusion into Gemm)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        src, pre = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx"
        src.write_bytes(fp32)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        return pre.read_bytes()


def quantize_static_int8(fp32: bytes, calibration: dict[str, np.ndarray], spec: ArtifactSpec,
                         keep_prefix: bool = False) -> bytes:
    """QDQ int8 (activations and weights int8). ``keep_prefix``: the nodes that preprocess the raw
    inputs (an in-model normalisation) stay in float, as do ``spec.exclude_nodes``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from edgeward.export.artifacts import Activations
    from edgeward.export.onnx_export import prefix_nodes

    method = {Calibration.MINMAX: CalibrationMethod.MinMax, Calibration.ENTROPY: CalibrationMethod.Entropy,
              Calibration.PERCENTILE: CalibrationMethod.Percentile}[spec.calibration]
    with tempfile.TemporaryDirectory() as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        pre.write_bytes(preprocess(fp32))
        graph = onnx.load(str(pre)).graph
        outputs = {o.name for o in graph.output}
        excluded = (prefix_nodes(graph) if keep_prefix else []) + [
            n.name for n in graph.node if n.op_type in FLOAT_OUTPUT_OPS and set(n.output) & outputs]
        with contextlib.redirect_stdout(io.StringIO()):  # the calibrators print progress notes
            quantize_static(
                str(pre), str(out), _Reader(calibration), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8 if spec.activations is Activations.U8 else QuantType.QInt8,
                weight_type=QuantType.QInt8, per_channel=spec.per_channel, reduce_range=spec.reduce_range,
                calibrate_method=method, nodes_to_exclude=excluded + list(spec.exclude_nodes),
                extra_options={"ActivationSymmetric": spec.activations is Activations.S8, "WeightSymmetric": True,
                               "CalibPercentile": 99.99, "CalibTensorRangeSymmetric": False},
            )
        return out.read_bytes()


def sensitive_nodes(fp32: bytes, int8: bytes, feeds: dict[str, np.ndarray],
                    op_types: tuple[str, ...] = ("MatMul", "Gemm", "Conv", "ConvTranspose")) -> list[tuple[str, float]]:
    """Compute nodes ranked by how far their int8 output strays from fp32 (relative L2 error).

    The int8 graph keeps the node and tensor names of the pre-processed fp32 graph (QDQ adds nodes
    around them), so each compute node's output is exposed in both and compared on the same samples.
    """
    import onnx
    import onnxruntime as ort

    def outputs_of(data: bytes, wanted: dict[str, str]) -> dict[str, np.ndarray]:
        proto = onnx.load_from_string(data)
        present = {o for n in proto.graph.node for o in n.output}
        names = [t for t in wanted if t in present]
        existing = {o.name for o in proto.graph.output}
        for t in names:
            if t not in existing:
                proto.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        values = session.run(names, feeds)
        return dict(zip(names, values))

    fp32 = preprocess(fp32)
    fp32_tensors = {o for n in onnx.load_from_string(fp32).graph.node for o in n.output}
    # int8 compute nodes whose output tensor also exists in fp32 (a fused Relu keeps its name)
    tensors = {n.output[0]: n.name for n in onnx.load_from_string(int8).graph.node
               if n.op_type in op_types and n.output[0] in fp32_tensors}
    ref, got = outputs_of(fp32, tensors), outputs_of(int8, tensors)
    ranked = []
    for tensor, node in tensors.items():
        if tensor in ref and tensor in got:
            a, b = ref[tensor].astype(np.float64), got[tensor].astype(np.float64)
            ranked.append((node, float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-12))))
    return sorted(ranked, key=lambda t: -t[1])
