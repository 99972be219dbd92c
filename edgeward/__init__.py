"""edgeward: take Keras models to devices.

Subpackages: ``edgeward.runtime`` (TensorFlow-free inference), ``edgeward.devices`` (device
profiles), ``edgeward.train`` and ``edgeward.export`` (need the ``train`` extra).
Importing this package has no side effects and imports nothing heavy.
"""

__version__ = "0.1.0"
