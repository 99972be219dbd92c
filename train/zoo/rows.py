"""The zoo's rows: the founding article's twelve Keras models, what runs each one on the device, and how each is
made (``make.py``) or what it still waits for."""

from __future__ import annotations

from dataclasses import dataclass

from edgeward.core.errors import InputError


@dataclass(frozen=True)
class ZooRow:
    number: int
    name: str
    article: str  # the model as the article builds it
    face: str  # the runtime object that runs it
    make: str | None  # the function in make.py that trains it into a run directory; None: not in the zoo yet
    waits: str = ""  # what a row without ``make`` waits for
    bench: str | None = None  # a measurement in app/zoo.py run after the row's files are checked

    @property
    def checked(self) -> bool:
        return self.make is not None


ROWS = (
    ZooRow(1, "fnn", "feed-forward binary classifier: Dense 64, Dense 64, sigmoid; 20 numeric features",
           "TabularClassifier", "make_fnn"),
    ZooRow(2, "cifar-cnn", "CIFAR-10 CNN: two Conv2D + MaxPooling blocks, Dense 64; 32x32x3, 10 classes",
           "Classifier", "make_cifar_cnn"),
    ZooRow(3, "lstm", "LSTM(50, relu) over 10 steps of 1 value, Dense(1)", "Forecaster", "make_lstm"),
    ZooRow(4, "text-encoder", "Transformer encoder: Embedding 5000x64, 4-head attention, LayerNorm, feed-forward",
           "TextClassifier", "make_text_encoder"),
    ZooRow(5, "gan", "GAN on 28x28 digits: generator from 100-d noise (LeakyReLU, tanh), discriminator",
           "Generator", "make_gan"),
    ZooRow(6, "gnn", "GNN: a custom GraphConv layer over node features and an adjacency matrix, node classes",
           "GraphModel", "make_gnn"),
    ZooRow(7, "resnet50", "ResNet50, random weights (no download; `train classify --weights FILE`: a local file), caffe "
           "preprocessing", "Classifier", "make_resnet50"),
    ZooRow(8, "translator", "encoder-decoder Transformer: two int inputs of 50, vocabulary 10000", "Translator",
           "make_translator", bench="decoding"),
    ZooRow(9, "yolov3", "YOLOv3 through OpenCV DNN (yolov3.cfg, yolov3.weights)", "Detector.from_darknet (the cfg and "
           "weights as they are); the row trains edgeward's own detector (`edgeward train detect`)", "make_yolov3"),
    ZooRow(10, "nodule-cnn", "lung-nodule CNN: 128x128x3, binary, class folders with augmentation", "Classifier",
           "make_nodule_cnn"),
    ZooRow(11, "fraud", "fraud DNN on tabular transactions", "FraudScorer", "make_fraud"),
    ZooRow(12, "speech-cnn", "Conv1D over (100, 40) feature frames, 10 classes", "CommandRecognizer", "make_speech_cnn"),
)


def find_rows(names: tuple[str, ...] | list[str]) -> list[ZooRow]:
    """The rows named (all of them for none), or a one-line error naming the unknown one and the known ones."""
    by_name = {r.name: r for r in ROWS}
    for name in names:
        if name not in by_name:
            raise InputError(f"zoo: expected a model among {', '.join(by_name)}, got {name!r}")
    return [by_name[n] for n in names] if names else list(ROWS)
