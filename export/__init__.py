"""Export: ONNX (and later TFLite) artifacts with the manifest, checked against the Keras reference.

May use edgeward.runtime to run what it wrote; TensorFlow is imported only where needed.
"""
