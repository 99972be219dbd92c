"""Training: the one training loop, compression and metrics; per task (``fraud``, ``commands``, ``detect``)
its configs, data generator and loader, model and trainer (needs the train extra).

Imports core and the runtime (shared preprocessing); TensorFlow is imported only by the functions that need it.
"""
