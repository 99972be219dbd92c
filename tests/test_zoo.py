"""The founding article's models (issue 20): `edgeward zoo list` and `check`, the builders at small sizes, the
custom graph layer through export, and the conformance table in a README."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.app.zoo import END, START, cell_text
from edgeward.runtime.graph import normalise_adjacency
from edgeward.train.zoo.rows import ROWS

README = "# a project\n\nbefore\n\n" + START + "\nold table\n" + END + "\n\nafter\n"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    (root / "README.md").write_text(README)
    args = ["zoo", "check", "fnn", "gnn", "cifar-cnn", "--out", str(root / "runs"), "--readme", str(root / "README.md")]
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
    assert set(rows) == {"fnn", "gnn", "cifar-cnn"}
    for r in rows.values():
        assert r["value"] > r["chance"] + 0.2, r  # learned something, by a margin
        cells = r["cells"]
        assert {"model.onnx", "model-fp16.onnx", "model-int8.onnx", "model.tflite", "model-fp16.tflite",
                "model-int8-dynamic.tflite", "model-int8.tflite"} <= set(cells)
        for name in ("model.onnx", "model.tflite"):
            assert cells[name]["passed"] and cells[name]["diff"] <= 1e-5 and cells[name]["p50_us"] > 0
        for name, cell in cells.items():  # every artifact: ok with its numbers, or the reason
            assert cell["passed"] or cell["reason"], (name, cell)
    # every GNN file, full-integer TFLite included: its inputs ("features", "adjacency") are not in name order, and
    # the converter's calibration takes them by name
    assert all(c["passed"] for c in rows["gnn"]["cells"].values()), rows["gnn"]["cells"]
    # the GNN beats what its features alone could give: it uses the graph
    alone = float(rows["gnn"]["note"].rsplit(": ", 1)[1])
    assert rows["gnn"]["value"] > alone + 0.05


def test_the_readme_gets_the_table_between_its_markers_and_nothing_else_changes(zoo):
    text = (zoo / "README.md").read_text()
    assert text.startswith("# a project\n\nbefore\n\n" + START) and text.endswith(END + "\n\nafter\n")
    assert "old table" not in text
    assert "| 1 | fnn | accuracy " in text and "| 6 | gnn | node accuracy " in text
    assert "| 3 | lstm | not in the zoo yet: TFLite's static batch" in text
    assert "| 7 | resnet50 | not checked yet |" in text
    assert "Measured by `edgeward zoo check` at the test suite's small sizes" in text


def test_checking_one_model_again_keeps_the_others_rows(zoo):
    before = json.loads((zoo / "runs" / "zoo.json").read_text())["rows"]
    assert main(["zoo", "check", "fnn", "--out", str(zoo / "runs"), "--readme", str(zoo / "README.md")]) == 0
    after = json.loads((zoo / "runs" / "zoo.json").read_text())["rows"]
    assert [r["name"] for r in after] == ["fnn", "cifar-cnn", "gnn"]  # in the article's order
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


def test_the_graph_model_reloads_in_a_fresh_process_from_its_run(zoo):
    # the adopted run carries the GraphConv layer file: a new process (no layer registered) exports it again
    run = zoo / "runs" / "gnn" / "run"
    code = ("import sys; from edgeward.core.model_files import load_run_model; from edgeward.core.rundir import RunDir; "
            "m, _ = load_run_model(RunDir(sys.argv[1])); print(m.layers[2].__class__.__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("GraphConv")


def test_unknown_and_unready_models_are_one_line_errors(tmp_path, capsys):
    assert main(["zoo", "check", "lstm", "--out", str(tmp_path)]) == 2
    assert "zoo check: lstm is not in the zoo yet (TFLite's static batch of 1" in capsys.readouterr().err
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
