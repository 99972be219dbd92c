"""edgeward: take Keras models to devices.

Layers (see docs/architecture.md): ``edgeward.core`` (errors, manifest, run directory, task protocol and
registry), ``edgeward.devices`` (device profiles), ``edgeward.runtime`` (TensorFlow-free inference),
``edgeward.train`` and ``edgeward.export`` (need the ``train`` extra), ``edgeward.tasks`` (one plug-in per
task) and ``edgeward.app`` (the command line, the demo, the HTML report).
Importing this package has no side effects and imports nothing heavy.
"""

__version__ = "0.2.0"
