"""The TensorFlow-free runtime: numpy + onnxruntime (LiteRT with the tflite extra).

Imports only edgeward.core and edgeward.devices (and finds the released models' files in edgeward.models), and
never TensorFlow.
"""

from edgeward.runtime.csv_scoring import ScoreSummary, score_csv
from edgeward.runtime.fraud import FraudScorer
from edgeward.runtime.model import Model

__all__ = ["FraudScorer", "Model", "ScoreSummary", "score_csv"]
