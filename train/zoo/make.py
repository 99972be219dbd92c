"""Each checked zoo row, trained on data the toolkit makes into a run directory that the export engine takes.

A row either runs a task of edgeward's with the article's network (classification, fraud), or trains its own
builder here and is adopted as a ``generic`` run, its held-out inputs the calibration rows. ``full`` gives the
article's sizes (``make zoo``); the default is small enough for the test suite. Every row states its metric
beside what chance (or the naive answer) scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Made:
    run: Path
    metric: str
    value: float
    chance: float  # what guessing scores: the majority share, 1/classes, the base rate
    note: str = ""
    parts: dict[str, Path] = field(default_factory=dict)  # runs of the model's halves the device runs (translator)


def _fit(keras, model, x, y, epochs: int, loss: str, progress: bool, desc: str, learning_rate: float = 2e-3,
         batch_size: int = 32, sample_weight: np.ndarray | None = None) -> None:
    from edgeward.train.loop import epoch_bar

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    model.fit(x, y, sample_weight=sample_weight, epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=[epoch_bar(keras, epochs, desc, progress)])


def _adopt(model, out: Path, inputs: dict[str, np.ndarray], custom_objects: str | None = None,
           labels: tuple[str, ...] = (), features: tuple[str, ...] = (), params: dict | None = None) -> Path:
    """The Keras model saved and adopted as a generic run, its held-out inputs the calibration rows; ``labels``,
    ``features`` and ``params`` go into its manifests for the runtime's face."""
    import json

    from edgeward.train.adopt import AdoptOptions, adopt_model

    out.mkdir(parents=True, exist_ok=True)
    if params:
        (out / "params.json").write_text(json.dumps(params))
    model.save(out / "model.keras")
    np.savez(out / "calibration.npz", **inputs)
    layers = None
    if custom_objects:
        layers = out / "layers.py"
        layers.write_text(custom_objects)
    adopt_model(AdoptOptions(model=str(out / "model.keras"), calibration=str(out / "calibration.npz"),
                             custom_objects=str(layers) if layers else None, labels=labels, features=features,
                             params=str(out / "params.json") if params else None), out / "run")
    return out / "run"


def make_fnn(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.core.keras_env import tf_keras
    from edgeward.train.zoo.tabular import FEATURE_NAMES, INPUT_NAME, LABELS, binary_rows, build_fnn

    keras = tf_keras()
    keras.utils.set_random_seed(0)
    x, y = binary_rows(20_000 if full else 4_000, seed=0)
    x_test, y_test = binary_rows(2_000 if full else 1_000, seed=1)
    model = build_fnn(keras)
    _fit(keras, model, x, y, 20 if full else 8, "binary_crossentropy", progress, "training fnn")
    accuracy = float(((model.predict(x_test, verbose=0)[:, 0] > 0.5) == y_test).mean())
    majority = float(max(y_test.mean(), 1 - y_test.mean()))
    return Made(_adopt(model, out, {INPUT_NAME: x_test[:400]}, labels=LABELS, features=FEATURE_NAMES), "accuracy",
                accuracy, majority)


def make_lstm(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.core.keras_env import tf_keras
    from edgeward.runtime.tasks.forecast import SeriesScaling
    from edgeward.train.zoo.series import INPUT_NAME, build_lstm, hourly_series, windows

    keras = tf_keras()
    keras.utils.set_random_seed(0)
    x, y = windows(hourly_series(200 if full else 40, 24 * 14, seed=0))
    x_test, y_test = windows(hourly_series(50 if full else 20, 24 * 7, seed=1))
    scaling = SeriesScaling.fit(x)
    model = build_lstm(keras)
    _fit(keras, model, scaling.apply(x)[..., None], scaling.apply(y), 20 if full else 6, "mse", progress,
         "training lstm", batch_size=64)
    predicted = scaling.invert(model.predict(scaling.apply(x_test)[..., None], verbose=0)[:, 0])
    mae, naive = float(np.abs(predicted - y_test).mean()), float(np.abs(x_test[:, -1] - y_test).mean())
    keep = np.random.default_rng(0).choice(len(x_test), 400, replace=False)
    run = _adopt(model, out, {INPUT_NAME: scaling.apply(x_test[keep])[..., None]},
                 params={"series": scaling.to_dict()})
    return Made(run, "MAE", mae, naive, note="hourly series of a daily and a weekly cycle; the chance column: the "
                                             "last value repeated")


def make_text_encoder(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.core.keras_env import tf_keras
    from edgeward.runtime.tasks.text import WordTokenizer
    from edgeward.train.zoo.sentences import INPUT_NAME, LABELS, LENGTH, build_text_encoder, requests

    keras = tf_keras()
    keras.utils.set_random_seed(0)
    texts, y = requests(8_000 if full else 2_000, seed=0)
    test_texts, y_test = requests(1_000 if full else 500, seed=1, unseen=True)
    tokenizer = WordTokenizer.fit(texts, 5000, LENGTH)
    model = build_text_encoder(keras, len(LABELS))
    _fit(keras, model, tokenizer.encode(texts), y, 10 if full else 4, "sparse_categorical_crossentropy", progress,
         "training text encoder")
    x_test = tokenizer.encode(test_texts)
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    return Made(_adopt(model, out, {INPUT_NAME: x_test}, labels=LABELS, params={"tokenizer": tokenizer.to_dict()}),
                "accuracy", accuracy, 1.0 / len(LABELS),
                note=f"{len(LABELS)} intents; test requests name rooms, times, cities and people training never drew")


def make_translator(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.core.keras_env import tf_keras
    from edgeward.runtime.tasks.text import PAD, WordTokenizer
    from edgeward.runtime.tasks.translate import END, START, greedy, words_of
    from edgeward.train.zoo.translation import LENGTH, MEMORY_NAME, SOURCE_NAME, TARGET_NAME, build_translator, number_pairs

    keras = tf_keras()
    keras.utils.set_random_seed(0)
    en, de = number_pairs(20_000 if full else 6_000, seed=0)
    en_test, de_test = number_pairs(500 if full else 200, seed=1, held_out=True)
    source = WordTokenizer.fit(en, 10_000, LENGTH)
    target = WordTokenizer((START, END) + WordTokenizer.fit(de, 10_000, LENGTH).vocabulary, LENGTH)
    start, end = target.vocabulary.index(START) + 2, target.vocabulary.index(END) + 2

    def teacher(texts):
        """(decoder input: <start> then the words; labels: the words then <end>), both padded."""
        words = target.encode(texts)
        labels = words.copy()
        rows = np.flatnonzero((words != PAD).sum(1) < LENGTH)
        labels[rows, (words[rows] != PAD).sum(1)] = end
        decoder = np.full_like(labels, PAD)
        decoder[:, 0], decoder[:, 1:] = start, labels[:, :-1]
        return decoder, labels

    vocab_in, vocab_out = (10_000, 10_000) if full else (source.size, target.size)
    models = build_translator(keras, vocab_in, vocab_out)
    decoder, labels = teacher(de)
    # --full: 20,000 pairs x 10 epochs, nearly three times the tests' updates, each far dearer (10,000-word softmax)
    _fit(keras, models.whole, [source.encode(en), decoder], labels, 10 if full else 12, "sparse_categorical_crossentropy",
         progress, "training translator", learning_rate=1e-3, batch_size=64,
         sample_weight=(labels != PAD).astype("float32"))
    x_test = source.encode(en_test)
    memory = models.encoder(x_test, training=False)  # once; the decoder half a step a word, as the runtime decodes
    ids = greedy(lambda tgt, t: models.decoder([memory, tgt], training=False).numpy(), len(x_test), LENGTH, start, end)
    got = words_of(ids, target, end)
    exact = float(np.mean([g == w for g, w in zip(got, de_test)]))
    decoder_test, labels_test = teacher(de_test)
    want = labels_test[:, : ids.shape[1]]  # labels[t] is the word after t words: greedy's ids[t]
    real = want != PAD
    token = float((ids[real] == want[real]).mean())
    # the decoder half's rows: each test sentence's target cut after a random number of its words, as mid-decoding
    given = np.random.default_rng(2).integers(1, (decoder_test != PAD).sum(1) + 1)
    prefixes = np.where(np.arange(LENGTH)[None, :] < given[:, None], decoder_test, PAD).astype(np.int32)
    tokenizers = {"source": source.to_dict(), "target": target.to_dict()}

    def params(part: str, inputs: list[str]) -> dict:
        return {"translator": {**tokenizers, "inputs": inputs, "part": part}}

    run = _adopt(models.whole, out, {SOURCE_NAME: x_test, TARGET_NAME: decoder_test},
                 params=params("whole", [SOURCE_NAME, TARGET_NAME]))
    parts = {"encoder": _adopt(models.encoder, out / "encoder", {SOURCE_NAME: x_test},
                               params=params("encoder", [SOURCE_NAME])),
             "decoder": _adopt(models.decoder, out / "decoder", {MEMORY_NAME: memory.numpy(), TARGET_NAME: prefixes},
                               params=params("decoder", [MEMORY_NAME, TARGET_NAME]))}
    return Made(run, "exact match", exact, 0.0, parts=parts,
                note=f"numbers in English to German word order, {len(en_test)} never drawn in training; token accuracy "
                     f"{token:.3f}")


def make_gnn(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.core.keras_env import tf_keras
    from edgeward.train.zoo.graph import LAYER_FILE, RUNTIME_PARAMS, block_graphs, build_gnn, community_labels, model_inputs

    keras = tf_keras()
    keras.utils.set_random_seed(0)
    nodes, classes, features = (100, 4, 16) if full else (24, 3, 8)
    train = block_graphs(600 if full else 300, nodes, classes, features, seed=0)
    test = block_graphs(100, nodes, classes, features, seed=1)
    model = build_gnn(keras, nodes, features, classes)
    x = model_inputs(train)
    _fit(keras, model, [x["features"], x["adjacency"]], train["labels"], 30 if full else 15, "sparse_categorical_crossentropy",
         progress, "training gnn")
    x_test = model_inputs(test)
    p = model.predict([x_test["features"], x_test["adjacency"]], verbose=0)
    accuracy = float((p.argmax(-1) == test["labels"]).mean())
    # the features alone: each node given its nearest community centre, what a model blind to the graph gets at best
    nearest = ((test["features"][..., None, :] - test["centres"]) ** 2).sum(-1).argmin(-1)
    alone = float((nearest == test["labels"]).mean())
    return Made(_adopt(model, out, x_test, custom_objects=LAYER_FILE, labels=community_labels(classes),
                       params=RUNTIME_PARAMS), "node accuracy", accuracy, 1.0 / classes,
                note=f"{nodes} nodes a graph, {classes} communities; the features alone: {alone:.2f}")


def _classify(out: Path, kind: str, arch: str, per_class: int, holdout: int, epochs: int, progress: bool,
              size: int | None = None, learning_rate: float = 3e-3) -> tuple[Path, dict]:
    from edgeward.train.classify.config import ClassifyDataConfig, ClassifyTrainConfig
    from edgeward.train.classify.data import generate_images
    from edgeward.train.classify.training import train_classify

    data = out / "data"
    if not data.exists():
        generate_images(data, ClassifyDataConfig(kind=kind, per_class=per_class, holdout=holdout, video_seconds=0),
                        progress=progress)
    config = ClassifyTrainConfig(arch=arch, epochs=epochs, size=size, learning_rate=learning_rate)
    record = train_classify(data, out / "run", config, progress=progress)
    return out / "run", record.metrics["model"]


def make_cifar_cnn(out: Path, full: bool = False, progress: bool = False) -> Made:
    run, metrics = _classify(out, "objects", "article-cnn", 600 if full else 250, 100 if full else 30, 30 if full else 15,
                             progress)
    return Made(run, "top-1 accuracy", metrics["top1"], 0.1, note="the classification task's objects, 32x32x3")


def make_nodule_cnn(out: Path, full: bool = False, progress: bool = False) -> Made:
    # a lower rate than the task's: no batch norm and a wide Flatten (docs/decisions.md)
    run, metrics = _classify(out, "nodules", "nodule-cnn", 600 if full else 300, 100 if full else 50, 30 if full else 15,
                             progress, learning_rate=5e-4)
    return Made(run, "top-1 accuracy", metrics["top1"], 0.5, note="the classification task's nodules, 128x128x3")


def make_resnet50(out: Path, full: bool = False, progress: bool = False) -> Made:
    # the row shows what compression buys on a big network (size, latency, agreement), not accuracy: few images and
    # epochs (docs/decisions.md)
    run, metrics = _classify(out, "objects", "resnet50", 50 if full else 20, 20 if full else 10, 2 if full else 1,
                             progress, size=224 if full else 32)
    return Made(run, "top-1 accuracy", metrics["top1"], 0.1, note=f"random weights, {224 if full else 32}x{224 if full else 32}")


def make_fraud(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.train.fraud.config import FraudSimConfig, FraudTrainConfig
    from edgeward.train.fraud.data import write_fraud_csv
    from edgeward.train.fraud.training import train_fraud

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "transactions.csv"
    write_fraud_csv(csv, FraudSimConfig(rows=200_000 if full else 30_000, days=120 if full else 40))
    record = train_fraud(csv, out / "run", FraudTrainConfig(epochs=30 if full else 5), progress=progress)
    p = record.payload  # a random score's AUPRC is the base rate
    return Made(out / "run", "AUPRC", record.metrics["model"]["auprc"], p.test_frauds / record.data.split["test"],
                note="the fraud task (`edgeward train fraud`)")


def make_speech_cnn(out: Path, full: bool = False, progress: bool = False) -> Made:
    from edgeward.train.commands.config import CommandsArch, CommandsDataConfig, CommandsTrainConfig
    from edgeward.train.commands.data import generate_commands
    from edgeward.train.commands.training import train_commands

    data = out / "data"
    if not data.exists():
        generate_commands(data, CommandsDataConfig(per_class=400 if full else 150, stream_minutes=0), progress=progress)
    config = CommandsTrainConfig(arch=CommandsArch.SPEECH_CNN, epochs=30 if full else 20, filters=64 if full else 32)
    record = train_commands(data, out / "run", config, progress=progress)
    classes = len(record.labels)
    return Made(out / "run", "accuracy", record.metrics["model"]["accuracy"], 1.0 / classes,
                note=f"the commands task's clips (espeak-ng, held-out voices), {classes} labels, log-mel (98, 40)")


def make_gan(out: Path, full: bool = False, progress: bool = False) -> Made:
    import shutil

    from PIL import Image

    from edgeward.core.keras_env import tf_keras
    from edgeward.runtime.tasks.classify import ImagePreprocess
    from edgeward.runtime.tasks.generate import grid, to_pixels
    from edgeward.train.classify.config import ClassifyDataConfig, ClassifyTrainConfig, ImageKind
    from edgeward.train.classify.data import generate_images, load_class_folders
    from edgeward.train.classify.training import PREPROCESS, train_classify
    from edgeward.train.zoo.gan import INPUT_NAME, NOISE, RANGE, build_generator, to_gan, train_gan

    keras = tf_keras()
    data = out / "digits"
    if not data.exists():
        generate_images(data, ClassifyDataConfig(kind=ImageKind.DIGITS, per_class=600 if full else 300,
                                                 holdout=50 if full else 20, video_seconds=0), progress=progress)
    # the judge: the toolkit's digit classifier (the classification task on the same digits)
    shutil.rmtree(out / "classifier", ignore_errors=True)
    judge_config = ClassifyTrainConfig(epochs=12 if full else 6)
    judge_record = train_classify(data, out / "classifier", judge_config, progress=progress)
    judge = keras.models.load_model(out / "classifier" / "model.keras")
    scale = ImagePreprocess(28, **PREPROCESS[judge_config.arch]).scale
    images = load_class_folders(data, 28).splits["train"][0]
    generator = train_gan(keras, to_gan(images), epochs=60 if full else 40, progress=progress)

    def recognised(gen) -> tuple[float, int, np.ndarray]:
        pixels = gen.predict(np.random.default_rng(7).standard_normal((1000, NOISE)).astype(np.float32), verbose=0)
        grey = to_pixels(pixels, *RANGE)  # (N, 28, 28), as the runtime's Generator gives them
        p = judge.predict(scale(np.repeat(grey[..., None], 3, axis=-1)), verbose=0)
        counts = np.bincount(p.argmax(1)[p.max(1) >= 0.9], minlength=10)
        # each digit counts up to a tenth of the samples: a generator that draws one digit (or one blob the judge
        # takes for one) scores 0.1 at most, however sure the judge is
        return float(np.minimum(counts, len(p) / 10).sum() / len(p)), int((counts > 0).sum()), grey

    share, kinds, samples = recognised(generator)
    untrained, _, _ = recognised(build_generator(keras))
    Image.fromarray(grid(samples[:64])).save(out / "samples.png")
    z = np.random.default_rng(1).standard_normal((400, NOISE)).astype(np.float32)
    run = _adopt(generator, out, {INPUT_NAME: z}, params={"generator": {"range": list(RANGE)}})
    return Made(run, "recognised", share, untrained,
                note=f"samples the digit classifier (top-1 {judge_record.metrics['model']['top1']:.2f} on real digits) "
                     f"names with >= 0.9, each digit counted up to a tenth; {kinds} of 10 digits among them; the "
                     f"chance column: the untrained generator's; samples: {out / 'samples.png'}")


def make_yolov3(out: Path, full: bool = False, progress: bool = False) -> Made:
    """The article loads a Darknet YOLOv3 with OpenCV; edgeward runs such files with ``Detector.from_darknet`` and
    trains its own detector (CenterNet-style, on generated digit scenes): the row checks that one's exports."""
    from edgeward.train.detect.config import DetectDataConfig, DetectorShape, DetectTrainConfig
    from edgeward.train.detect.data import generate_digits
    from edgeward.train.detect.training import train_detect

    data = out / "data"
    if not data.exists():
        generate_digits(data, DetectDataConfig(images=2000 if full else 1000, holdout=200 if full else 100, video_seconds=0),
                        progress=progress)
    size = 320 if full else 160
    config = DetectTrainConfig(epochs=30, eval_every=100, holdout_images=100 if full else 50,
                               shape=DetectorShape(size=size))
    record = train_detect(data, out / "run", config, progress=progress)
    return Made(out / "run", "mAP@0.5", record.metrics["model"]["map50"], 0.0,
                note=f"edgeward's detector on digit scenes at {size}x{size}; Darknet files run through "
                     "Detector.from_darknet")
