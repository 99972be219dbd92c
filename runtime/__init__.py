"""The TensorFlow-free runtime: numpy + onnxruntime (LiteRT with the tflite extra).

Imports only edgeward.core and edgeward.devices (and finds the released models' files in edgeward.models), and
never TensorFlow.
"""

from edgeward.runtime.csv_scoring import ScoreSummary, score_csv
from edgeward.runtime.forecast import Forecaster, SeriesScaling
from edgeward.runtime.fraud import FraudScorer
from edgeward.runtime.generate import Generator
from edgeward.runtime.graph import GraphModel
from edgeward.runtime.model import Model
from edgeward.runtime.tabular import TabularClassifier
from edgeward.runtime.text import TextClassifier, WordTokenizer
from edgeward.runtime.translate import Translator

__all__ = ["Forecaster", "FraudScorer", "Generator", "GraphModel", "Model", "ScoreSummary", "SeriesScaling", "TabularClassifier",
           "TextClassifier", "Translator", "WordTokenizer", "score_csv"]
