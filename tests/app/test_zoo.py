"""The founding article's models (issue 20): `edgeward zoo list` and `check`, the builders at small sizes, the
custom graph layer through export, and the conformance table in a README."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.app.zoo import CPU_HEADERS, END, START, cell_text, cpu_text
from edgeward.core.errors import InputError, TensorError
from edgeward.devices.cpu import CpuClass, running_class
from edgeward.devices.emulators import unavailable
from edgeward.runtime.tasks.graph import normalise_adjacency
from edgeward.train.zoo.rows import ROWS

pytestmark = pytest.mark.full  # the article's models trained until they learn: `make test-full`

README = "# a project\n\nbefore\n\n" + START + "\nold table\n" + END + "\n\nafter\n"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    (root / "README.md").write_text(README)
    # int8 on this host's class and on AVX2 without VNNI (emulated where this host has VNNI); arm64 is the export's
    # and `make arm64-check`'s (tests/devices/test_cpu_classes.py), at an emulated cost this fixture need not pay again
    x86 = ",".join(c.value for c in (CpuClass.AVX2, CpuClass.VNNI) if unavailable(c, running_class()) is None)
    args = ["zoo", "check", "fnn", "gnn", "cifar-cnn", "lstm", "text-encoder", "speech-cnn", "translator",
            "--out", str(root / "runs"), "--readme", str(root / "README.md"), "--targets", x86]
    assert main(args) == 0
    return root


def test_list_names_all_twelve_and_what_each_waits_for(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert [r.number for r in ROWS] == list(range(1, 13))
    for row in ROWS:
        assert f"{row.number:2d}. {row.name}" in out
        assert ("checked by `edgeward zoo check`" if row.checked else f"next: {row.waits}") in out
    assert f"{sum(r.checked for r in ROWS)} of 12 in the zoo" in out


def test_check_trains_each_model_beyond_chance_and_checks_every_artifact(zoo):
    rows = {r["name"]: r for r in json.loads((zoo / "runs" / "zoo.json").read_text())["rows"]}
    assert set(rows) == {"fnn", "gnn", "cifar-cnn", "lstm", "text-encoder", "speech-cnn", "translator"}
    for r in rows.values():
        if r["metric"] == "MAE":  # the forecast's error well under the last value repeated
            assert r["value"] < 0.8 * r["chance"], r
        else:
            assert r["value"] > r["chance"] + 0.2, r  # learned something, by a margin
        cells = r["cells"]
        assert {"model.onnx", "model-fp16.onnx", "model-int8.onnx", "model.tflite", "model-fp16.tflite",
                "model-int8-dynamic.tflite", "model-int8.tflite"} <= set(cells)
        for name in ("model.onnx", "model.tflite"):
            assert cells[name]["passed"] and cells[name]["diff"] <= 1e-5 and cells[name]["p50_us"] > 0
        for name, cell in cells.items():  # every artifact: ok with its numbers, or the reason
            assert cell["passed"] or cell["reason"], (name, cell)
    # int8 files with the target-aware settings are judged alike on every CPU class checked (at least AVX2 without
    # VNNI, emulated where this host has VNNI): the same verdict and drop there as on this host, within a point
    for name in ("fnn", "gnn", "cifar-cnn", "speech-cnn"):
        for file in ("model-int8.onnx", "model-int8-dynamic.tflite", "model-int8.tflite"):
            cpu = rows[name]["cells"][file]["cpu"]
            drops = [c["drop_points"] for c in cpu.values()]
            assert "avx2" in cpu and len({c["passed"] for c in cpu.values()}) == 1 and max(drops) - min(drops) <= 1, \
                (name, file, cpu)
            # and they pass, except the CIFAR CNN's: at this size (top-1 about 0.5 on 300 held-out images) int8 flips
            # about 7% of its top-1 answers either way, so its net drop spreads about +-1.5 points around 0 and the
            # 1-point budget is a coin flip (measured: -0.7 on a VNNI host, +1.67 on an AVX2 one); its answers must
            # still mostly agree with float's, which a broken quantization would not
            if name == "cifar-cnn":
                assert all(c["agreement"] >= 0.9 for c in cpu.values()), (name, file, cpu)
            else:
                assert all(c["passed"] for c in cpu.values()), (name, file, cpu)
    table = (zoo / "README.md").read_text()
    assert all(f"| {header} |" in table or f"| {header}" in table for header in CPU_HEADERS.values())
    # every GNN file, full-integer TFLite included: its inputs ("features", "adjacency") are not in name order, and
    # the converter's calibration takes them by name
    assert all(c["passed"] for c in rows["gnn"]["cells"].values()), rows["gnn"]["cells"]
    # the GNN beats what its features alone could give: it uses the graph
    alone = float(rows["gnn"]["note"].rsplit(": ", 1)[1])
    assert rows["gnn"]["value"] > alone + 0.05


def test_the_fnn_and_the_gnn_run_through_their_runtime_faces(zoo):
    """Row 1 through ``TabularClassifier`` (named rows, class names from the manifest), row 6 through ``GraphModel``
    (raw 0/1 adjacency in, normalised by the runtime as training did): each scores on fresh data what the zoo
    measured on the Keras model, from the ONNX and the TFLite file alike."""
    from edgeward.runtime import GraphModel, TabularClassifier
    from edgeward.train.zoo.graph import block_graphs
    from edgeward.train.zoo.tabular import FEATURE_NAMES, binary_rows

    rows = {r["name"]: r for r in json.loads((zoo / "runs" / "zoo.json").read_text())["rows"]}
    x, y = binary_rows(1_000, seed=1)
    named = [dict(zip(FEATURE_NAMES[::-1], row[::-1].tolist())) for row in x]  # any column order
    for name in ("model.onnx", "model.tflite"):
        with TabularClassifier.from_file(zoo / "runs" / "fnn" / "run" / "artifacts" / name) as fnn:
            assert fnn.labels == ("negative", "positive") and fnn.features == FEATURE_NAMES
            predicted = fnn.predict(named)
            accuracy = np.mean([p == ("positive" if t else "negative") for p, t in zip(predicted, y)])
            assert abs(accuracy - rows["fnn"]["value"]) < 0.01, (name, accuracy)
            np.testing.assert_allclose(fnn.score(x), fnn.probabilities(named)[:, 1], atol=1e-6)
    gnn_row = rows["gnn"]
    graphs = block_graphs(100, 24, 3, 8, seed=1)  # the zoo's test graphs, raw
    for name in ("model.onnx", "model.tflite"):
        with GraphModel.from_file(zoo / "runs" / "gnn" / "run" / "artifacts" / name) as gnn:
            p = gnn.probabilities(graphs["features"], graphs["adjacency"])
            assert p.shape == (100, 24, 3)
            assert abs((p.argmax(-1) == graphs["labels"]).mean() - gnn_row["value"]) < 0.01, name
            one = gnn.classify(graphs["features"][0], graphs["adjacency"][0])
            assert one == [f"community-{i}" for i in p[0].argmax(-1)]


def test_the_lstm_forecasts_through_the_forecaster_and_its_tflite_file_runs_a_row_at_a_time(zoo):
    """Row 3: the TFLite file's batch is fixed at one (the converter needs it for the LSTM) and LiteRT cannot resize
    it, so the session runs a batch row by row; the ``Forecaster`` scales windows as training did (from the
    manifest) and feeds its forecasts back for several steps; full-integer TFLite is refused with the reason."""
    from edgeward.runtime import Forecaster
    from edgeward.train.zoo.series import hourly_series, windows

    row = next(r for r in json.loads((zoo / "runs" / "zoo.json").read_text())["rows"] if r["name"] == "lstm")
    assert row["cells"]["model-int8.tflite"]["reason"].startswith("TFLite full-integer int8 of a recurrent layer")
    series = hourly_series(20, 24 * 7, seed=1)  # the zoo's test series
    x, y = windows(series)
    arts = zoo / "runs" / "lstm" / "run" / "artifacts"
    with Forecaster.from_file(arts / "model.onnx") as onnx, Forecaster.from_file(arts / "model.tflite") as tflite:
        assert onnx.window == tflite.window == 10
        assert onnx.model.manifest.inputs[0].shape == (None, 10, 1)  # the manifest keeps the batch open
        a, b = onnx.forecast_windows(x), tflite.forecast_windows(x[:300])
        assert tflite.model._session._row_at_a_time  # LiteRT refused the resize: one row at a time
        np.testing.assert_allclose(a[:300], b, atol=1e-3)
        assert abs(np.abs(a - y).mean() - row["value"]) < 1e-3
        for value in series[0, :10]:
            onnx.update(value)
        assert onnx.ready
        ahead = onnx.forecast(steps=24)  # a day ahead, each step fed back
        assert ahead.shape == (24,) and ahead[0] == pytest.approx(a[0], abs=1e-4)
        assert np.abs(ahead - series[0, 10:34]).mean() < 3 * np.abs(series[0, 10:34] - series[0, 9]).mean()
        np.testing.assert_allclose(onnx.forecast(steps=3, history=series[0, :10]), ahead[:3])
        with pytest.raises(TensorError, match=r"^history: expected at least 10 values \(the model's window\), got 4$"):
            onnx.forecast(history=[1, 2, 3, 4])
        with pytest.raises(InputError, match=r"^steps: expected a whole number >= 1, got 0$"):
            onnx.forecast(steps=0)
        with pytest.raises(TensorError, match=r"^value: expected a finite number, got nan$"):
            onnx.update(float("nan"))


def test_the_text_encoder_takes_strings_through_the_tokenizer_its_manifest_carries(zoo):
    """Row 4: ``TextClassifier`` reads the word vocabulary from the manifest; requests naming rooms, cities and
    people training never saw (out-of-vocabulary ids) are classified as well as the zoo measured, from the ONNX
    and the full-integer TFLite file alike."""
    from edgeward.runtime import TextClassifier
    from edgeward.runtime.tasks.text import OOV, PAD, WordTokenizer, words
    from edgeward.train.zoo.sentences import LABELS, requests

    row = next(r for r in json.loads((zoo / "runs" / "zoo.json").read_text())["rows"] if r["name"] == "text-encoder")
    texts, y = requests(300, seed=2, unseen=True)
    arts = zoo / "runs" / "text-encoder" / "run" / "artifacts"
    for name in ("model.onnx", "model-int8.tflite"):
        with TextClassifier.from_file(arts / name) as text:
            assert text.labels == LABELS
            accuracy = np.mean([p == LABELS[t] for p, t in zip(text.predict(texts), y)])
            assert accuracy > row["value"] - 0.05, (name, accuracy)
            top = text.classify("Hey, switch the NURSERY lights off!", top_k=2)
            assert top[0].label == "lights_off" and top[0].score > top[1].score
            with pytest.raises(InputError, match=r"^text: expected a string, got int$"):
                text.classify(3)
            with pytest.raises(InputError, match=r"^text 1: expected a string, got NoneType$"):
                text.predict(["play abba", None])
    tokenizer = text.tokenizer
    ids = tokenizer.encode("turn on the zanzibar lights")[0]
    assert ids[3] == OOV and (ids[5:] == PAD).all() and len(ids) == tokenizer.length
    assert WordTokenizer.from_dict(tokenizer.to_dict()) == tokenizer
    assert words("It's TOO loud, turn it DOWN!") == ["it's", "too", "loud", "turn", "it", "down"]
    assert tokenizer.encode(["it's too loud"])[0, 0] != tokenizer.encode(["it too loud"])[0, 0]  # both in training


def test_the_speech_cnn_takes_frames_by_bands_and_the_recognizer_reads_that_from_the_manifest(zoo):
    """Row 12: the article's Conv1D over (frames, mel bands), trained through the commands task's front end; its
    files say the layout (NTF, no channel axis) and ``CommandRecognizer`` feeds them so, on the test voices' clips."""
    from edgeward.runtime.io.audio_features import FrontEnd
    from edgeward.runtime.io.audio_io import read_wav
    from edgeward.runtime.tasks.commands import CommandRecognizer

    row = next(r for r in json.loads((zoo / "runs" / "zoo.json").read_text())["rows"] if r["name"] == "speech-cnn")
    data = zoo / "runs" / "speech-cnn" / "data"
    listed = (data / "testing_list.txt").read_text().split()
    clips = [(data / name, name.split("/")[0]) for name in listed][::4]
    for name in ("model.onnx", "model-int8.tflite"):
        with CommandRecognizer.from_file(zoo / "runs" / "speech-cnn" / "run" / "artifacts" / name) as rec:
            spec = rec.model.manifest.inputs[0]
            assert spec.shape == (None, 98, 40) and spec.layout == "NTF" and not rec.front_end.channel
            labels = [rec.classify(*read_wav(path))[0] for path, _ in clips]
            accuracy = np.mean([got == want for got, (_, want) in zip(labels, clips)])
            assert accuracy > row["value"] - 0.15, (name, accuracy)
    # a manifest written before the layout field still reads as the DS-CNN's (frames, bands, 1)
    old = {k: v for k, v in FrontEnd().to_dict().items() if k != "channel"}
    assert FrontEnd.from_dict(old).shape == (98, 40, 1)


def test_the_translator_decodes_numbers_it_never_saw_greedily_from_strings(zoo):
    """Row 8: ``Translator`` carries both tokenizers in the manifest, runs the encoder-decoder a step at a time
    for a whole batch, and stops each sentence at its end word; held-out numbers come out in German word order,
    from the whole file and from the encoder and decoder files alike."""
    from edgeward.runtime import Translator
    from edgeward.train.zoo.translation import german, number_pairs

    row = next(r for r in json.loads((zoo / "runs" / "zoo.json").read_text())["rows"] if r["name"] == "translator")
    en, de = number_pairs(60, seed=5, held_out=True)
    runs = zoo / "runs" / "translator"
    for name in ("model.onnx", "model.tflite"):
        encoder, decoder = (runs / part / "run" / "artifacts" / name for part in ("encoder", "decoder"))
        with Translator.from_file(runs / "run" / "artifacts" / name) as whole, \
                Translator.from_file(encoder, decoder=decoder) as split:
            got = whole.translate(en)
            assert np.mean([g == w for g, w in zip(got, de)]) > row["value"] - 0.1, (name, got[:5], de[:5])
            assert np.mean([g == s for g, s in zip(got, split.translate(en))]) >= 0.95, name
            for tr in (whole, split):
                assert tr.translate("forty two") == german(42) == "zwei und vierzig"
                with pytest.raises(InputError, match=r"^texts: expected at least one text, got none$"):
                    tr.translate([])
    # the measurement beside the table: the two ways over the same sentences, for every format made, timed and judged
    # by their translations (an int8 encoder's memory has no classes for the generic check to agree on)
    bench = row["bench"]
    assert set(bench) == {"model.onnx", "model-fp16.onnx", "model-int8.onnx", "model.tflite", "model-fp16.tflite",
                          "model-int8-dynamic.tflite", "model-int8.tflite"}
    for name in ("model.onnx", "model.tflite"):
        b = bench[name]
        assert b["sentences"] == 40 and b["same"] >= 0.95 and b["whole_ms"] > 0 and b["split_ms"] > 0, b
        assert min(b["whole_exact"], b["split_exact"]) > row["value"] - 0.1, b
    for part in ("encoder", "decoder"):
        cells = row["parts"][part]["cells"]
        assert all(cells[n]["passed"] and cells[n]["diff"] <= 1e-5 for n in ("model.onnx", "model.tflite")), cells
    assert "| 8 | translator: decoder | a step a word: a sentence " in (zoo / "README.md").read_text()


def test_the_translator_halves_refuse_what_does_not_pair_in_one_line(zoo):
    from edgeward.core.errors import ManifestError
    from edgeward.runtime import Model, Translator

    arts = {p: zoo / "runs" / "translator" / p / "run" / "artifacts" / "model.onnx" for p in ("encoder", "decoder")}
    arts["whole"] = zoo / "runs" / "translator" / "run" / "artifacts" / "model.onnx"
    with pytest.raises(ManifestError, match=r"manifest field 'params.translator' is missing"):
        Translator.from_file(zoo / "runs" / "lstm" / "run" / "artifacts" / "model.onnx")
    with pytest.raises(ManifestError, match=r"encoder.*model.onnx: the translator's encoder alone; expected the whole "
                                            r"translator, or the encoder with decoder= the decoder$"):
        Translator.from_file(arts["encoder"])
    with pytest.raises(ManifestError, match=r"model.onnx: the whole translator; expected the encoder when decoder= is "):
        Translator.from_file(arts["whole"], decoder=arts["decoder"])
    with pytest.raises(ManifestError, match=r"^decoder: .*encoder.*: the translator's encoder; expected the decoder$"):
        Translator.from_file(arts["encoder"], decoder=arts["encoder"])
    encoder, decoder = Model(arts["encoder"]), Model(arts["decoder"])
    decoder.manifest.params["translator"]["target"]["vocabulary"].append("elf")  # as another translator's would
    with pytest.raises(ManifestError, match=r"^decoder: .*: its tokenizers differ from .*'s: the halves of two "):
        Translator(encoder, decoder)
    decoder.manifest.params["translator"]["part"] = "middle"
    with pytest.raises(ManifestError, match=r"'params.translator.part': expected one of whole, encoder, decoder, got "
                                            r"'middle'$"):
        Translator(encoder, decoder)
    encoder.close()
    decoder.close()


def test_the_faces_refuse_what_does_not_fit_in_one_line(zoo):
    from edgeward.core.errors import ManifestError
    from edgeward.runtime import GraphModel, Model, TabularClassifier

    fnn_file = zoo / "runs" / "fnn" / "run" / "artifacts" / "model.onnx"
    gnn_file = zoo / "runs" / "gnn" / "run" / "artifacts" / "model.onnx"
    with TabularClassifier.from_file(fnn_file) as fnn:
        with pytest.raises(TensorError, match=r"^row 1: missing feature 'x07'$"):
            fnn.predict([{f"x{i:02d}": 0.0 for i in range(1, 21)}, {f"x{i:02d}": 0.0 for i in range(1, 21) if i != 7}])
        with pytest.raises(TensorError, match=r"^rows: expected shape \(N, 20\) or \(20,\), got \(3, 19\)$"):
            fnn.score(np.zeros((3, 19), np.float32))
    with pytest.raises(InputError, match=r"expected one table input \(N, F\), got features \(None, 24, 8\), adjacency"):
        TabularClassifier(Model(gnn_file))
    with pytest.raises(ManifestError, match=r"manifest field 'params.graph' is missing: not a graph model"):
        GraphModel(Model(fnn_file))
    with GraphModel.from_file(gnn_file) as gnn:
        with pytest.raises(TensorError, match=r"^adjacency: expected shape \(24, 24\) or \(N, 24, 24\), got \(24, 23\)$"):
            gnn.classify(np.zeros((24, 8)), np.zeros((24, 23)))


def test_the_readme_gets_the_table_between_its_markers_and_nothing_else_changes(zoo):
    text = (zoo / "README.md").read_text()
    assert text.startswith("# a project\n\nbefore\n\n" + START) and text.endswith(END + "\n\nafter\n")
    assert "old table" not in text
    assert "| 1 | fnn | accuracy " in text and "| 6 | gnn | node accuracy " in text
    assert "| 9 | yolov3 | not checked yet |" in text
    assert "| 7 | resnet50 | not checked yet |" in text
    assert "Measured by `edgeward zoo check` at the test suite's small sizes" in text


def test_checking_one_model_again_keeps_the_others_rows(zoo):
    before = json.loads((zoo / "runs" / "zoo.json").read_text())["rows"]
    assert main(["zoo", "check", "fnn", "--out", str(zoo / "runs"), "--readme", str(zoo / "README.md")]) == 0
    after = json.loads((zoo / "runs" / "zoo.json").read_text())["rows"]
    order = ["fnn", "cifar-cnn", "lstm", "text-encoder", "gnn", "translator", "speech-cnn"]  # the article's
    assert [r["name"] for r in after] == order
    assert [r for r in after if r["name"] != "fnn"] == [r for r in before if r["name"] != "fnn"]
    assert "| 6 | gnn | node accuracy " in (zoo / "README.md").read_text()


def test_a_cell_says_ok_with_its_numbers_or_why_not():
    ok = {"passed": True, "check": "max abs diff vs keras", "diff": 2e-7, "drop": 0.0, "size": 25_000, "p50_us": 7.8}
    assert cell_text(ok) == "ok, diff 2e-07, 24 KB, 7.8 us"
    assert cell_text({**ok, "check": "metric drop vs fp32 keras", "drop": 0.25}) == "ok, drop +0.2, 24 KB, 7.8 us"
    assert cell_text({"passed": False, "reason": "TFLite conversion failed: op X | y\nmore"}) == \
        "fails: TFLite conversion failed: op X / y"
    assert cell_text({"passed": False, "cannot": True, "reason": "TFLite full-integer int8 would quantize X; use Y"}) == \
        "cannot: TFLite full-integer int8 would quantize X"
    assert cell_text(None) == "not made"
    cpu = {"vnni": {"passed": True, "drop_points": 0.5, "reason": "top1 drop +0.50 points <= 1; agreement 99%"},
           "avx2": {"passed": False, "drop_points": 7.0, "reason": "top1 drop +7.00 points > 1; agreement 93.00%"}}
    int8 = {"passed": False, "reason": "on vnni: ok; on avx2 (qemu): top1 drop +7.00 points > 1", "cpu": cpu}
    assert cell_text(int8) == "fails on avx2: top1 drop +7.00 points > 1"
    assert cpu_text({"model-int8.onnx": int8}, "avx2") == "ONNX FAILS +7.0"
    assert cpu_text({"model-int8.onnx": int8}, "vnni") == "ONNX +0.5"
    assert cpu_text({"model-int8.onnx": int8}, "arm64") == "ONNX not checked"
    degenerate = {"passed": False, "degenerate": "the reference model's outputs do not vary (spread 0.0e+00)"}
    assert cell_text(degenerate) == "degenerate: the reference model's outputs do not vary"


def test_the_graph_model_reloads_in_a_fresh_process_from_its_run(zoo):
    # the adopted run carries the GraphConv layer file: a new process (no layer registered) exports it again
    run = zoo / "runs" / "gnn" / "run"
    code = ("import sys; from edgeward.core.model_files import load_run_model; from edgeward.core.rundir import RunDir; "
            "m, _ = load_run_model(RunDir(sys.argv[1])); print(m.layers[2].__class__.__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("GraphConv")


def test_unknown_and_unready_models_are_one_line_errors(tmp_path, capsys, monkeypatch):
    from edgeward.train.zoo import rows

    waiting = rows.ZooRow(13, "later", "a model", "Model", None, "its builder")
    monkeypatch.setattr(rows, "ROWS", (*rows.ROWS, waiting))
    assert main(["zoo", "check", "later", "--out", str(tmp_path)]) == 2
    assert "zoo check: later is not in the zoo yet (its builder)" in capsys.readouterr().err
    assert main(["zoo", "list", "alexnet"]) == 2
    assert "zoo: expected a model among fnn, cifar-cnn" in capsys.readouterr().err
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    from edgeward.app.zoo import write_readme
    from edgeward.core.errors import InputError

    with pytest.raises(InputError, match="README.md: expected the zoo's markers"):
        write_readme(readme, "| table |", "here")
    assert readme.read_text() == "no markers\n"


def test_the_image_builders_follow_the_article_at_small_size():
    from edgeward.core.keras_env import tf_keras
    from edgeward.train.classify.config import Arch, ClassifyTrainConfig
    from edgeward.train.classify.training import build_classifier

    keras = tf_keras()
    for arch, size, classes, convs in ((Arch.ARTICLE_CNN, 32, 10, 2), (Arch.NODULE_CNN, 128, 2, 3), (Arch.RESNET50, 32, 10, 53)):
        model = build_classifier(keras, arch, size, classes, ClassifyTrainConfig(arch=arch))
        assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == convs
        out = model.predict(np.zeros((2, size, size, 3), np.float32), verbose=0)
        assert out.shape == (2, classes) and np.allclose(out.sum(1), 1, atol=1e-5)


def test_resnet50_takes_a_local_weights_file_and_refuses_one_that_does_not_fit(tmp_path):
    """Row 7's `--weights FILE`: the backbone starts from a local file (nothing is downloaded); a file of other
    weights, a missing file or weights for an architecture without a backbone are one-line errors."""
    from edgeward.core.errors import ConfigError
    from edgeward.core.keras_env import tf_keras
    from edgeward.train.classify.config import Arch, ClassifyTrainConfig
    from edgeward.train.classify.training import build_classifier

    keras = tf_keras()
    keras.utils.set_random_seed(1)
    donor = keras.applications.ResNet50(input_shape=(32, 32, 3), weights=None, include_top=False, pooling="avg")
    donor.save_weights(tmp_path / "resnet50_notop.h5")
    config = ClassifyTrainConfig(arch=Arch.RESNET50, weights=str(tmp_path / "resnet50_notop.h5"))
    model = build_classifier(keras, Arch.RESNET50, 32, 10, config)
    for name in ("conv1_conv", "conv5_block3_3_conv"):
        np.testing.assert_array_equal(model.get_layer(name).get_weights()[0], donor.get_layer(name).get_weights()[0])
    keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, include_top=False,
                                   pooling="avg").save_weights(tmp_path / "mobilenet.h5")
    with pytest.raises(InputError, match=r"mobilenet.h5: not weights for resnet50 without its top \("):
        build_classifier(keras, Arch.RESNET50, 32, 10,
                         ClassifyTrainConfig(arch=Arch.RESNET50, weights=str(tmp_path / "mobilenet.h5")))
    with pytest.raises(ConfigError, match=r"^weights \(--weights\): expected an existing weights file, got '.*nope.h5'$"):
        ClassifyTrainConfig(arch=Arch.RESNET50, weights=str(tmp_path / "nope.h5"))
    with pytest.raises(ConfigError, match=r"expected none for --arch small-cnn \(only resnet50 and mobilenet take"):
        ClassifyTrainConfig(weights=str(tmp_path / "resnet50_notop.h5"))


def test_a_per_node_class_output_agrees_node_by_node():
    from edgeward.train.generic.adopt import agreement_metric, output_kind

    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(3), size=(10, 4))  # 10 graphs of 4 nodes, 3 classes each
    assert output_kind(ref) == "classes" and output_kind(ref[:, :, :2]) == "values"
    out = ref.copy()
    out[0, 1] = np.roll(out[0, 1], 1)  # one node of one graph now has another top class
    agreement = agreement_metric([{"kind": "classes", "shape": [4, 3], "scale": 1.0}], 0.1)
    assert agreement(ref, ref) == 1.0
    assert agreement(ref, out) == pytest.approx(1 - 1 / 40)


def test_adjacency_normalisation_is_symmetric_and_scaled_by_degree():
    ring = np.roll(np.eye(5), 1, axis=1) + np.roll(np.eye(5), -1, axis=1)  # every node has degree 2 (+1 self-loop)
    a = normalise_adjacency(ring)
    assert np.allclose(a, a.T) and np.allclose(a.sum(1), 1.0) and np.allclose(np.diag(a), 1 / 3)
    batch = normalise_adjacency(np.stack([ring, np.zeros((5, 5))]))
    assert np.allclose(batch[1], np.eye(5))  # a node alone keeps its own features
    with pytest.raises(ValueError, match=r"adjacency: expected a square \(N, N\) matrix"):
        normalise_adjacency(np.zeros((3, 4)))


def test_the_gan_trains_adversarially_and_its_generator_samples_uint8_digits_through_the_runtime(tmp_path, capsys):
    """Row 5 at a tiny size (the full row takes minutes): a few steps of adversarial training change the
    generator; the generator adopted with its output range (`--params`) and exported runs in ``Generator``:
    uint8 images, the same seed the same images, its noise from the manifest's input."""
    from edgeward.core.keras_env import tf_keras
    from edgeward.runtime.tasks.generate import Generator, grid
    from edgeward.train.classify.digits import draw_digit
    from edgeward.train.zoo.gan import NOISE, build_generator, to_gan, train_gan

    keras = tf_keras()
    rng = np.random.default_rng(0)
    digits = np.stack([draw_digit(k % 10, rng) for k in range(128)])
    assert digits.shape == (128, 28, 28, 3) and digits[:, 0, 0].mean() < 40 and digits.max() > 180  # light on dark
    z = rng.standard_normal((8, NOISE)).astype(np.float32)
    keras.utils.set_random_seed(0)
    before = build_generator(keras).predict(z, verbose=0)
    generator = train_gan(keras, to_gan(digits), epochs=2, batch=32, seed=0)
    after = generator.predict(z, verbose=0)
    assert after.shape == (8, 28, 28, 1) and np.abs(after).max() <= 1.0 and np.abs(after - before).mean() > 1e-3
    generator.save(tmp_path / "generator.keras")
    np.savez(tmp_path / "noise.npz", noise=rng.standard_normal((64, NOISE)).astype(np.float32))
    (tmp_path / "params.json").write_text(json.dumps({"generator": {"range": [-1, 1]}}))
    assert main(["export", "--model", str(tmp_path / "generator.keras"), "--calibration", str(tmp_path / "noise.npz"),
                 "--params", str(tmp_path / "params.json"), "--out", str(tmp_path / "run"), "--format", "onnx",
                 "--precision", "fp32"]) == 0
    with Generator.from_file(tmp_path / "run" / "artifacts" / "model.onnx") as gen:
        assert gen.noise == NOISE
        images = gen.sample(6, seed=3)
        assert images.shape == (6, 28, 28) and images.dtype == np.uint8
        np.testing.assert_array_equal(images, gen.sample(6, seed=3))
        assert not np.array_equal(images, gen.sample(6, seed=4))
        expected = np.clip(np.round((after[..., 0] + 1) * 127.5), 0, 255)
        assert np.abs(gen.from_noise(z).astype(int) - expected).max() <= 1
        with pytest.raises(InputError, match=r"^n: expected a whole number >= 1, got 0$"):
            gen.sample(0)
    assert grid(images, columns=4).shape == (2 * 30 + 2, 4 * 30 + 2)


def test_the_translator_halves_compute_what_the_whole_does():
    """The encoder and decoder share the whole model's layers: for any target so far, the decoder's next-word
    probabilities are the whole model's at the last word given (the position read from the padding)."""
    from edgeward.core.keras_env import tf_keras
    from edgeward.train.zoo.translation import LENGTH, build_translator

    keras = tf_keras()
    keras.utils.set_random_seed(0)
    models = build_translator(keras, 30, 40)
    rng = np.random.default_rng(0)
    source = rng.integers(2, 30, (4, LENGTH)).astype(np.int32)
    target = np.zeros((4, LENGTH), np.int32)
    given = [1, 3, 7, LENGTH]
    for i, n in enumerate(given):
        target[i, :n] = rng.integers(2, 40, n)
    whole = models.whole([source, target]).numpy()
    step = models.decoder([models.encoder(source), target]).numpy()
    assert step.shape == (4, 40)
    np.testing.assert_allclose(step, whole[np.arange(4), np.array(given) - 1], atol=1e-6)
    assert not np.allclose(step[0], whole[0, 1])  # a position other than the last would differ
