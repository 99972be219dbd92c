"""Any Keras model, trained elsewhere: adopted for export (``edgeward export --model``), judged by its agreement
with itself in Keras."""
