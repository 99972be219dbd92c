"""Export: ONNX and TFLite artifacts with the manifest, each checked against its Keras model; the shared benchmark.

Imports core, devices and the runtime (to run what it wrote); a task's data and contract come through its
spec (``edgeward.core.registry``), never from training code. TensorFlow is imported only where needed.
"""
