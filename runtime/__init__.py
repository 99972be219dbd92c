"""The TensorFlow-free runtime: numpy + onnxruntime (LiteRT with the tflite extra).

Imports only edgeward.core and edgeward.devices (and finds the released models' files in edgeward.models), and
never TensorFlow. Its folders: ``engine`` (models, sessions, the catalogue, the readers of untrusted bytes), ``io``
(audio, video, drawing), ``tasks`` (the task runtimes and the article's model faces), ``services`` (serve, batch, the
cross-CPU workers). The public classes are all importable from here; those that bring audio or video in are loaded on
first use, so that scoring rows starts fast.
"""

import importlib

from edgeward.runtime.engine.model import Model
from edgeward.runtime.tasks.csv_scoring import ScoreSummary, score_csv
from edgeward.runtime.tasks.forecast import Forecaster, SeriesScaling
from edgeward.runtime.tasks.fraud import FraudScorer
from edgeward.runtime.tasks.generate import Generator
from edgeward.runtime.tasks.graph import GraphModel
from edgeward.runtime.tasks.tabular import TabularClassifier
from edgeward.runtime.tasks.text import TextClassifier, WordTokenizer
from edgeward.runtime.tasks.translate import Translator

_ON_FIRST_USE = {  # name -> its module
    "Classifier": "edgeward.runtime.tasks.classify",
    "CommandRecognizer": "edgeward.runtime.tasks.commands",
    "Detector": "edgeward.runtime.tasks.detect",
    "LatestFrames": "edgeward.runtime.io.video",
    "MicSource": "edgeward.runtime.io.audio_sources",
    "WavSource": "edgeward.runtime.io.audio_sources",
}

__all__ = ["Classifier", "CommandRecognizer", "Detector", "Forecaster", "FraudScorer", "Generator", "GraphModel",
           "LatestFrames", "MicSource", "Model", "ScoreSummary", "SeriesScaling", "TabularClassifier", "TextClassifier",
           "Translator", "WavSource", "WordTokenizer", "score_csv"]


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
    raise AttributeError(f"module 'edgeward.runtime' has no attribute {name!r}")
