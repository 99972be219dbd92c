"""TFLite conversion in every precision, with the manifest in the flatbuffer's ``metadata``.

The manifest goes into a buffer named by a ``Metadata`` entry (``METADATA_KEY``), as TFLite's own
metadata does, so it travels inside the file and LiteRT ignores it. The runtime reads it back
without TensorFlow (``edgeward.runtime.engine.tflite_metadata``). Only TFLite builtin ops are allowed: the
Flex delegate is not shipped in the LiteRT wheels, so an op outside the builtins fails the export
with the op's name.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from edgeward.core.errors import ExportError
from edgeward.core.manifest import METADATA_KEY, Manifest
from edgeward.core.quiet import quiet_stderr
from edgeward.export.artifacts import ArtifactSpec, Precision

_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_FLEX_OPS = re.compile(r"Flex ops: ([\w, ]+)")


def keras_to_tflite(model, spec: ArtifactSpec, representative: dict[str, np.ndarray] | None = None, traced: bool = False,
                    input_names: tuple[str, ...] | list[str] = ()) -> bytes:
    """TFLite bytes for ``spec``'s precision. ``representative``: real training samples by input name (full-integer
    int8). ``traced``: a Keras 3 model or a SavedModel signature, converted as a frozen function."""
    from edgeward.core.keras_env import tensorflow

    tf = tensorflow()
    with quiet_stderr(), warnings.catch_warnings():  # the converter's deprecation notes
        warnings.simplefilter("ignore")
        converter = _converter(tf, model, traced, input_names)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if spec.source.is_qat or spec.precision is Precision.INT8_DYNAMIC:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif spec.precision is Precision.FP16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif spec.precision is Precision.INT8:
        if not representative:
            raise ExportError("full-integer int8 TFLite needs representative samples, got none")
        samples = {k: np.asarray(v) for k, v in representative.items()}
        rows = len(next(iter(samples.values())))

        def row(v, i):
            return v[i: i + 1].astype(np.float32) if v.dtype.kind == "f" else v[i: i + 1]

        # several inputs of a Keras model go by name, not by position: its converter orders them by name, which is
        # not always the model's order (the zoo GNN's "features", "adjacency"); a traced function keeps its order
        by_name = len(samples) > 1 and not (traced or _dilated(model) or recurrent(model))

        def dataset():
            for i in range(rows):
                yield {k: row(v, i) for k, v in samples.items()} if by_name else [row(v, i) for v in samples.values()]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if spec.int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        with quiet_stderr() as log, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Statistics for quantized inputs were expected" on QAT graphs, and such
            return converter.convert()
    except Exception as exc:  # ConverterError and friends
        from edgeward.export.onnx_export import layer_names

        raise ExportError(_conversion_error(f"{exc}\n{log()}", layer_names(model))) from None


def _converter(tf, model, traced: bool, input_names):
    from edgeward.export.onnx_export import frozen_function

    if traced:  # trace, freeze the variables into constants, convert the frozen function
        return tf.lite.TFLiteConverter.from_concrete_functions([frozen_function(tf, model, _specs(tf, model, None, input_names))])
    if _dilated(model) or recurrent(model):  # fixed at one row: _dilated's and _recurrent's reasons
        return tf.lite.TFLiteConverter.from_concrete_functions([_traced(tf, model, 1, input_names)], model)
    return tf.lite.TFLiteConverter.from_keras_model(model)


def _conversion_error(text: str, layers: set[str]) -> str:
    """The converter's error as one line: ops outside the builtins with the layers holding them."""
    from edgeward.export.onnx_export import layer_of

    ops = sorted(set(_UNSUPPORTED_OP.findall(text)) | {o.strip() for m in _FLEX_OPS.findall(text) for o in m.split(",")})
    if ops:
        # the nodes' name scopes, as the converter quotes them: "model/layer/Op" or "model/layer/Op@__inference_..."
        where = {op: sorted({layer_of(node, layers) for node in re.findall(rf'"([^"\s]*/{op})(?:@[^"]*)?"', text)} - {""})
                 for op in ops}
        what = ", ".join(f"{op} (layer {', '.join(where[op])})" if where[op] else op for op in ops)
        return (f"TFLite export needs op(s) {what} outside the TFLite builtins; they would need the Flex "
                "delegate, which LiteRT does not ship: replace the layer that uses them, or export to ONNX")
    first = next((line for line in text.splitlines() if line.strip()), "unknown error")
    return f"TFLite conversion failed: {first}"


def _specs(tf, model, batch: int | None, input_names) -> tuple:
    from edgeward.core.model_files import input_specs

    specs = input_specs(model)
    names = list(input_names) or [t.name for t in specs]
    return tuple(tf.TensorSpec((batch, *t.shape[1:]), t.dtype, name=n) for t, n in zip(specs, names))


def _traced(tf, model, batch: int | None, input_names=()):
    """The model's inference as a concrete function of its inputs, ``batch`` rows (None: any)."""
    def call(*xs):
        return model(list(xs) if len(xs) > 1 else xs[0], training=False)

    return tf.function(call, input_signature=_specs(tf, model, batch, input_names)).get_concrete_function()


def _dilated(model) -> bool:
    """Whether a (tf_keras) model has a dilated convolution at any depth (QAT wraps layers and models).
    With an open batch the converter writes each as space-to-batch, conv, batch-to-space, leaving the batch
    norm after it unfolded; with the batch fixed it fuses them into one conv (the runtime resizes the batch)."""
    return any(max(getattr(layer, "dilation_rate", None) or (1,)) > 1 for layer in model.submodules)


def recurrent(model) -> bool:
    """Whether a model has a recurrent layer (LSTM, GRU, SimpleRNN, any ``RNN``): with an open batch the converter
    cannot size the loop's tensor list ("TensorListReserve requires element_shape to be static"); with the batch
    fixed at one it writes the loop as a WHILE of builtin ops. LiteRT cannot resize such a file's batch, so the
    runtime runs it a row at a time (``runtime.sessions.TfliteSession``)."""
    return any(hasattr(layer, "cell") and hasattr(layer, "return_sequences") for layer in _layers(model))


def _layers(model):
    """Every layer at any depth (nested models, wrappers' inner layers) of a tf_keras or Keras 3 model; none of a
    SavedModel signature."""
    stack, seen = list(getattr(model, "layers", ())), set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack += list(getattr(layer, "layers", ())) + [x for x in (getattr(layer, "layer", None),) if x is not None]


def with_manifest(data: bytes, manifest: Manifest) -> bytes:
    """A copy of the TFLite flatbuffer with the manifest added (or replaced) as metadata."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(manifest.to_json().encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_KEY, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_KEY, METADATA_KEY.encode())] + [entry]
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
