"""The founding article's twelve Keras models (issue 20): a builder per model, data to train it on, and the rows
that ``edgeward zoo`` lists and checks (``rows.py``)."""
