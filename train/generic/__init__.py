"""A Keras model with any inputs and outputs, trained elsewhere and adopted for export (``edgeward export --model``)."""
