"""Fraud scoring: a transaction simulator, CSV loading with a time split, and the MLP's training."""
