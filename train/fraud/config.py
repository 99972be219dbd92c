"""The fraud task's configurations and its part of the training record (dataclasses only)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeward.core.config import at_least, check, fraction, option


@dataclass(frozen=True)
class FraudSimConfig:
    rows: int = option(200_000, "about this many legitimate transactions (fraud bursts add a few)")
    days: int = option(120, "days of spending")
    seed: int = option(0, "random seed")
    radius: float = option(5.0, "a customer shops at terminals within this distance")
    terminal_compromise_per_day: float = option(0.12, "compromised terminals per day, per 1000 terminals")
    card_compromise_per_day: float = option(0.4, "compromised cards per day, per 1000 customers")
    label_delay_days: int = option(7, "days before a fraud label is known")

    def __post_init__(self):
        at_least(self, 1, "rows", "days")
        at_least(self, 0, "radius", "terminal_compromise_per_day", "card_compromise_per_day", "label_delay_days")


@dataclass(frozen=True)
class FraudTrainConfig:
    label: str = option("is_fraud", "the 0/1 label column")
    time_column: str = option("auto", "the column the rows are split by in time (auto: timestamp or Time if present; "
                                      "none: file order)")
    features: tuple[str, ...] | None = option(None, "the feature columns (default: all but the label, the time column "
                                                    "and id columns)")
    from_model: str | None = option(None, "adopt this Keras model (tf_keras or Keras 3 .keras) trained elsewhere "
                                          "instead of training one")
    epochs: int = option(30, "most passes over the training rows (early stopping on validation AUPRC)")
    batch_size: int = option(512, "rows per batch")
    hidden: tuple[int, ...] = option((64, 32), "units of each hidden layer")
    dropout: float = option(0.2, "dropout after each hidden layer")
    learning_rate: float = option(2e-3, "Adam's learning rate")
    max_class_weight: float = option(20.0, "fraud rows weigh min(legitimate / fraud, this): imbalance without instability")
    patience: int = option(5, "epochs without a better validation AUPRC before stopping")
    val: float = option(0.15, "share of rows (after the training rows, in time) for validation")
    test: float = option(0.15, "share of rows (the newest) held out for testing")
    seed: int = option(0, "random seed")
    baseline: bool = option(True, "also train scikit-learn's HistGradientBoosting on the same split")

    def __post_init__(self):
        at_least(self, 1, "epochs", "batch_size", "patience")
        at_least(self, 1, "max_class_weight")
        check(self, "hidden", bool(self.hidden) and all(isinstance(u, int) and u >= 1 for u in self.hidden),
              "one or more whole numbers >= 1")
        fraction(self, "dropout")
        fraction(self, "val", "test", low_open=True)
        check(self, "test", self.val + self.test < 1, "a share that, with val, leaves rows for training")
        check(self, "learning_rate", self.learning_rate > 0, "a number > 0")
        check(self, "label", bool(self.label), "a column name")


@dataclass(frozen=True)
class FraudPayload:
    """The fraud task's part of the training record."""

    features: list[str]  # in the model's input order
    label: str
    time_column: str | None  # None: file order
    rows: int
    fraud_rate: float
    test_frauds: int
    class_weight: float  # of fraud rows
    pr_curves: dict  # "model" (and "baseline") -> {"recall": [...], "precision": [...]} on the test split
    baseline_seconds: float | None = None
    adopted_from: str | None = None  # the Keras model adopted instead of training, if any
