"""ONNX conversion (tf2onnx) of tf_keras and Keras 3 models, fp16 conversion, and the manifest entry."""

from __future__ import annotations

import re

from edgeward.core.errors import ExportError, require
from edgeward.core.manifest import METADATA_KEY, Manifest
from edgeward.core.quiet import quiet_stderr

OPSET = 17


def keras_to_onnx(model, input_names: tuple[str, ...] | list[str], traced: bool = False,
                  output_names: list[str] | None = None):
    """An ONNX ModelProto whose inputs are named ``input_names`` (in the model's order) with a free batch
    dimension, and whose outputs are named ``output_names`` (the Keras model's, in its order).

    tf_keras models go through ``from_keras``; Keras 3 models and SavedModel signatures (``traced``) through
    a frozen ``tf.function`` (tf2onnx's Keras path does not know Keras 3). An op tf2onnx cannot convert
    fails with the op and the layer that holds it.
    """
    from edgeward.core.keras_env import tensorflow
    from edgeward.core.model_files import input_specs

    tf = tensorflow()
    tf2onnx = require("tf2onnx", "train")
    input_names = (input_names,) if isinstance(input_names, str) else tuple(input_names)
    specs = tuple(tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=name) for t, name in zip(input_specs(model), input_names))
    try:
        with quiet_stderr() as log:
            if traced:
                proto = _from_frozen_function(tf, tf2onnx, model, specs)
            else:
                proto, _ = tf2onnx.convert.from_keras(model, input_signature=specs, opset=OPSET)
    except Exception as exc:  # tf2onnx raises many exception types; report the first line
        raise ExportError(_conversion_error(str(exc), log(), layer_names(model))) from None
    import onnx

    unconverted = [n for n in proto.graph.node if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type)]
    if unconverted:
        raise ExportError(unsupported("ONNX", [(n.op_type, layer_of(n.name, layer_names(model))) for n in unconverted]))
    if output_names and len(output_names) == len(proto.graph.output):
        for value, name in zip(list(proto.graph.output), output_names):
            _rename(proto, value.name, name)
    _integer_nearest_resize(proto)
    return proto


def _conversion_error(text: str, log: str, layers: set[str]) -> str:
    """tf2onnx's error as one line; an op it cannot convert, with its layer."""
    ops = re.findall(r"Tensorflow op \[([^\]:]+): (\w+)\] is not supported", log + "\n" + text)
    if ops:
        return unsupported("ONNX", [(op, layer_of(node, layers)) for node, op in ops])
    first = next((line for line in text.splitlines() if line.strip()), "unknown error")
    return f"tf2onnx could not convert the model: {first.strip()}"


def unsupported(fmt: str, ops: list[tuple[str, str]]) -> str:
    """One line naming each op without a builtin in ``fmt`` and the layer holding it."""
    seen: dict[str, str] = {}
    for op, layer in ops:
        if not seen.get(op):
            seen[op] = layer
    what = "; ".join(f"op {op} in layer '{layer}'" if layer else f"op {op}" for op, layer in seen.items())
    other = "TFLite" if fmt == "ONNX" else "ONNX"
    return f"{fmt} export: no {fmt} builtin for {what}: replace the layer, or export to {other}"


def layer_names(model) -> set[str]:
    return {layer.name for layer in getattr(model, "layers", [])}


def layer_of(node: str, layers: set[str]) -> str:
    """The Keras layer a TensorFlow node belongs to, from its name scope (``model/svd_layer_1/Svd`` -> ``svd_layer``,
    tracing numbers a layer's scope); the innermost scope if no layer of the model matches."""
    scopes = [p for p in node.split("/")[:-1] if p]
    for part in reversed(scopes):
        for name in (part, re.sub(r"_\d+$", "", part)):
            if name in layers:
                return name
    return scopes[-1] if scopes else ""


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


def _from_frozen_function(tf, tf2onnx, model, specs):
    """Trace ``model`` as a tf.function of its inputs, freeze its variables into constants, convert the graph."""
    frozen = frozen_function(tf, model, specs)
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    proto, _ = tf2onnx.convert.from_graph_def(frozen.graph.as_graph_def(), input_names=inputs, output_names=outputs,
                                              opset=OPSET)
    for name, spec in zip(inputs, specs):
        _rename(proto, name, spec.name)
    for i, name in enumerate(outputs):
        _rename(proto, name, "output" if len(outputs) == 1 else f"output_{i}")
    return proto


def frozen_function(tf, model, specs):
    """The model's inference as a concrete function of its inputs (``specs``), variables frozen into constants."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    def call(*xs):
        return model(list(xs) if len(xs) > 1 else xs[0], training=False)

    return convert_variables_to_constants_v2(tf.function(call, input_signature=specs).get_concrete_function())


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
