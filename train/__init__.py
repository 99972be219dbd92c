"""Training: per-task data generators and loaders, model builders, training (needs the train extra).

May use edgeward.runtime (shared preprocessing); TensorFlow is imported only by the functions that need it.
"""
