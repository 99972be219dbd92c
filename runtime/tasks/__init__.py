"""The tasks' runtimes, each registered by its manifest's task in ``runtime.registry``: fraud scoring (and CSV
scoring), voice commands, object detection (its decoders, NMS and Darknet import), image classification; and the
founding article's model faces on top of ``Model``: tabular classifiers, forecasters, generators, graph models,
text classifiers and translators."""
