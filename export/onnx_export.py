"""ONNX conversion (tf2onnx) of tf_keras and Keras 3 models, fp16 conversion, and the manifest entry."""

from __future__ import annotations

from edgeward.core.errors import ExportError, require
from edgeward.core.manifest import METADATA_KEY, Manifest
from edgeward.core.quiet import quiet_stderr

OPSET = 17


def keras_to_onnx(model, input_name: str, keras3: bool = False):
    """An ONNX ModelProto with one input named ``input_name`` and a free batch dimension.

    tf_keras models go through ``from_keras``; Keras 3 models through a ``tf.function`` (tf2onnx's
    Keras path does not know Keras 3).
    """
    from edgeward.core.keras_env import tensorflow

    tf = tensorflow()
    tf2onnx = require("tf2onnx", "train")
    shape = (None, *model.inputs[0].shape[1:])
    spec = (tf.TensorSpec(shape, tf.float32, name=input_name),)
    try:
        with quiet_stderr():
            if keras3:
                proto = _from_frozen_function(tf, tf2onnx, model, spec, input_name)
            else:
                proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    except Exception as exc:  # tf2onnx raises many exception types; report the first line
        raise ExportError(f"tf2onnx could not convert the model: {str(exc).strip().splitlines()[0]}") from None
    _integer_nearest_resize(proto)
    return proto


def _integer_nearest_resize(proto) -> None:
    """tf2onnx writes Keras' nearest upsampling as Resize with the ``tf_half_pixel_for_nn`` mode, which
    onnxruntime warns about on every load (deprecated since opset 13). For constant integer scales and
    floor rounding it picks the same pixels as ``asymmetric`` (floor((x + 0.5) / s) = floor(x / s)), so
    those nodes switch; the fp32 check against Keras confirms the outputs."""
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    for node in proto.graph.node:
        attrs = {a.name: a for a in node.attribute}
        text = {k: a.s for k, a in attrs.items() if a.type == a.STRING}
        if node.op_type != "Resize" or len(node.input) < 3 or node.input[2] not in consts:
            continue
        scales = consts[node.input[2]]
        if text.get("coordinate_transformation_mode") == b"tf_half_pixel_for_nn" and text.get("mode") == b"nearest" and \
                text.get("nearest_mode") == b"floor" and scales.size and (scales >= 1).all() and (scales == scales.round()).all():
            attrs["coordinate_transformation_mode"].s = b"asymmetric"


def _from_frozen_function(tf, tf2onnx, model, spec, input_name: str):
    """Keras 3: trace ``model`` as a tf.function, freeze its variables into constants, convert the graph."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = tf.function(lambda x: model(x, training=False), input_signature=spec).get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    proto, _ = tf2onnx.convert.from_graph_def(frozen.graph.as_graph_def(), input_names=inputs, output_names=outputs,
                                              opset=OPSET)
    _rename(proto, inputs[0], input_name)
    for i, name in enumerate(outputs):
        _rename(proto, name, name.split(":")[0] if len(outputs) > 1 else "output")
    return proto


def _rename(proto, old: str, new: str) -> None:
    for value in list(proto.graph.input) + list(proto.graph.output):
        if value.name == old:
            value.name = new
    for node in proto.graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


COMPUTE_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose")


def prefix_nodes(graph) -> list[str]:
    """Names of the nodes that only preprocess the raw inputs: every node, in graph order, whose
    inputs all come from graph inputs, initializers or such nodes, before any compute op."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    names = []
    for node in graph.node:
        if node.op_type in COMPUTE_OPS or not all(i in known for i in node.input if i):
            continue
        names.append(node.name)
        known.update(node.output)
    return names


def to_fp16(proto, keep_prefix: bool = False):
    """fp16 weights and activations, float32 inputs and outputs (onnxruntime's converter).

    ``keep_prefix``: the nodes that preprocess raw inputs (an in-model normalisation) stay in float32:
    raw values such as a time gap in seconds overflow fp16 (max 65504) before they are normalised.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    keep = prefix_nodes(proto.graph) if keep_prefix else []
    half = convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False, node_block_list=keep)
    _drop_round_trip_casts(half)
    return half


def _drop_round_trip_casts(proto) -> None:
    """Bypass Cast(fp16) -> Cast(fp32) chains the converter leaves around float32 nodes: they would
    round a float32 value through fp16 (and overflow it) on its way between two float32 nodes."""
    from onnx import TensorProto

    graph = proto.graph
    producer = {o: n for n in graph.node for o in n.output}

    def cast_to(node) -> int | None:
        return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None

    rename = {}
    for node in graph.node:
        first = producer.get(node.input[0]) if node.input else None
        if cast_to(node) == TensorProto.FLOAT and first is not None and cast_to(first) == TensorProto.FLOAT16:
            rename[node.output[0]] = first.input[0]
    if not rename:
        return
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    while True:  # drop Casts nobody reads any more, until none is left
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        alive = [n for n in graph.node if n.op_type != "Cast" or any(o in used for o in n.output)]
        if len(alive) == len(graph.node):
            return
        del graph.node[:]
        graph.node.extend(alive)


def embed_manifest(proto, manifest: Manifest) -> None:
    """Set (or replace) the manifest entry of an ONNX ModelProto's metadata_props."""
    for prop in list(proto.metadata_props):
        if prop.key == METADATA_KEY:
            proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, manifest.to_json()


def with_manifest(data: bytes, manifest: Manifest) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    embed_manifest(proto, manifest)
    return proto.SerializeToString()


def compact_names(data: bytes) -> bytes:
    """The same graph with short node and tensor names (``Conv_12``, ``t34``); graph inputs and outputs
    keep theirs. Converter names such as ``model/block_3_pw/Conv2D_weights_fused_bn_quantized`` can
    weigh as much as a small model's int8 weights. Graphs with subgraphs (If, Loop) are left as they are."""
    import onnx

    proto = onnx.load_from_string(data)
    graph = proto.graph
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return data
    keep = {v.name for v in list(graph.input) + list(graph.output)}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for t in graph.initializer:
        t.name = short(t.name)
    for i, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{i}"
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    for v in graph.value_info:
        v.name = short(v.name)
    return proto.SerializeToString()
