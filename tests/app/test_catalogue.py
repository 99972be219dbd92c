"""The model catalogue: names that work wherever a model file does, ``edgeward models``, the release notes in the
manifests; and every shipped model checked on a small fresh sample of its task's data."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgeward.app.cli import main
from edgeward.tools.release import RECIPES, Recipe, release_notes, stamped
from edgeward.core.errors import InputError, ModelFileError
from edgeward.core.manifest import Metric
from edgeward.core.registry import get_task
from edgeward.runtime.engine import catalogue
from edgeward.runtime.engine.embedded import manifest_of
from edgeward.runtime.engine.verify import verify_model

REPO = Path(__file__).resolve().parents[2]


def _ship(folder: Path, recipe: Recipe, artifacts: Path) -> None:
    (folder / recipe.name).mkdir(parents=True)
    for file in recipe.ship:
        data = (artifacts / file).read_bytes()
        notes = release_notes(recipe, [Metric("map50", 0.5, "a test's numbers")], file)
        (folder / recipe.name / file).write_bytes(stamped(data, manifest_of(data, file), notes))


@pytest.fixture
def small_catalogue(tmp_path, monkeypatch, detect_run, fraud_run):
    """A catalogue of the tiny test runs' files, stamped the way a release stamps them."""
    root = tmp_path / "models"
    _ship(root, RECIPES["digits"], detect_run / "artifacts")
    tiny_fraud = Recipe("tiny-fraud", "fraud", "a test's fraud model", (), ("model.onnx",), default=False)
    _ship(root, tiny_fraud, fraud_run / "artifacts")
    monkeypatch.setattr(catalogue, "catalogue_dir", lambda: root)
    catalogue.catalogue.cache_clear()
    yield root
    catalogue.catalogue.cache_clear()


def test_names_resolve_wherever_a_model_file_is_taken(small_catalogue, tmp_path, monkeypatch):
    from edgeward.runtime import FraudScorer, Model
    from edgeward.runtime.tasks.detect import Detector

    assert catalogue.names() == ("digits", "tiny-fraud")
    assert catalogue.default_for("detect") == "digits" and catalogue.default_for("fraud") is None
    with Model("digits") as m:
        assert m.source == str(small_catalogue / "digits" / "model.onnx") and m.manifest.release["name"] == "digits"
    with Model("digits", device="raspberry-pi-4") as m:  # a TFLite-first int8 profile gets the int8 TFLite file
        assert m.source.endswith("model-int8.tflite")
    with Detector.from_catalogue() as d:  # the task's default
        assert d.model.source.endswith("digits/model.onnx")
    with FraudScorer.from_catalogue("tiny-fraud") as f:
        assert f.model.manifest.release["default"] is False
    with pytest.raises(InputError, match="catalogue model 'digits' is a detect model; FraudScorer runs fraud models"):
        FraudScorer.from_catalogue("digits")
    with pytest.raises(InputError, match="no default fraud model"):
        FraudScorer.from_catalogue()
    with pytest.raises(ModelFileError, match=r"^digitz: neither a model file nor a catalogue model \(digits, tiny-fraud\)$"):
        Model("digitz")
    monkeypatch.chdir(tmp_path)  # a file of that name in the working directory wins
    Path("digits").write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="^digits: not a loadable ONNX model"):
        Model("digits")


def test_a_data_folder_of_a_released_name_is_not_in_the_way(small_catalogue, detect_data, tmp_path, monkeypatch, capsys):
    """After the README's `edgeward data detect digits/`, `digits` still names the released model (said once, as a
    warning), in the API, `run` (with and without a model) and `serve`, which keeps the names given."""
    import shutil

    from edgeward.runtime import Model
    from edgeward.runtime.engine.catalogue import NameResolvedWarning
    from edgeward.runtime.tasks.detect import Detector
    from edgeward.runtime.services.serve.models import load_models
    from edgeward.runtime.services.serve.options import ServeOptions

    monkeypatch.chdir(tmp_path)
    shutil.copytree(detect_data, "digits")  # the data folder: images and labels, no model
    with pytest.warns(NameResolvedWarning, match="digits: the folder here of that name holds no model; using the "
                                                 "released model 'digits'"):
        with Model("digits") as m:
            assert m.source == str(small_catalogue / "digits" / "model.onnx")
    with pytest.warns(NameResolvedWarning):
        Detector.from_catalogue("digits").close()
    images = str(Path("digits") / "images" / "test")
    capsys.readouterr()
    for argv in (["run", "detect", "--source", images, "--json"], ["run", "detect", "digits", "--source", images, "--json"]):
        assert main(argv) == 0, capsys.readouterr().err
        err = capsys.readouterr().err
        assert err.count("warning: digits: the folder here of that name holds no model") == 1, err
    with pytest.warns(NameResolvedWarning):
        served = load_models(["digits", "tiny-fraud"], ServeOptions())
    assert [s.name for s in served] == ["digits", "tiny-fraud"]
    (Path("digits") / "model.onnx").write_bytes(b"x" * 64)  # a folder with a model in it is the user's: its file is read
    with pytest.raises(ModelFileError, match="digits/model.onnx"):
        Model("digits")


def test_release_notes_keep_the_seal(small_catalogue):
    for f in catalogue.get("digits").files:
        verified = verify_model(f.path)  # stamping re-sealed the file: verify still holds
        notes = verified.manifest.release
        assert notes["name"] == "digits" and notes["recipe"][0].startswith("edgeward data detect")
        assert notes["metrics"] == [{"name": "map50", "value": 0.5, "data": "a test's numbers"}]
        assert notes["default"] == (f.path.name == "model.onnx")


def test_models_command(small_catalogue, capsys, detect_data):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "digits  (detect, the default): digits on meters" in out and "model-int8.tflite" in out
    assert "map50    0.500 on a test's numbers" in out and "made by: make models (3 steps" in out
    assert main(["models", "path", "digits"]) == 0
    assert capsys.readouterr().out.strip() == str(small_catalogue / "digits" / "model.onnx")
    assert main(["models", "path", "digits", "--file", "model-int8.tflite"]) == 0
    assert capsys.readouterr().out.strip().endswith("digits/model-int8.tflite")
    assert main(["models", "path", "nope"]) == 2
    assert "unknown catalogue model 'nope': expected one of digits, tiny-fraud" in capsys.readouterr().err
    assert main(["models", "path", "digits", "--file", "x.onnx"]) == 2
    assert "expected one of ['model.onnx', 'model-int8.tflite'], got 'x.onnx'" in capsys.readouterr().err
    # `run` without a model takes the task's default; --model takes a name
    for argv in (["run", "detect"], ["run", "detect", "--model", "digits"]):
        assert main([*argv, "--source", str(detect_data / "video.mp4"), "--json"]) == 0
        frames = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [f["frame"] for f in frames] == list(range(len(frames))) and len(frames) == 25
    assert main(["run", "detect", "digits", "--model", "digits", "--source", "0"]) == 2
    assert "give the model once" in capsys.readouterr().err
    assert main(["run", "commands", "--source", "x.wav"]) == 2  # a task with nothing released
    assert "run commands: expected a model (a file, or a name from `edgeward models list`); the catalogue has no " \
           "default commands model" in capsys.readouterr().err
    assert main(["models", "path"]) == 2
    assert "models path: expected a catalogue model's name" in capsys.readouterr().err


def test_a_rebuild_is_compared_with_the_shipped_numbers(small_catalogue, capsys):
    """``make models``' table: within the recipe's tolerance, outside it, and a file that was never shipped."""
    from edgeward.tools.__main__ import main
    from edgeward.tools.release import compare

    recipe = RECIPES["digits"]  # shipped above with map50 0.5; tolerance 0.03
    rows = compare(recipe, {"model.onnx": [Metric("map50", 0.52, "x")], "model-int8.tflite": [Metric("map50", 0.45, "x")],
                            "model-new.onnx": [Metric("map50", 0.5, "x")]}, small_catalogue)
    assert rows == [["digits/model.onnx", "map50", "0.5000", "0.5200", "+0.0200", "yes"],
                    ["digits/model-int8.tflite", "map50", "0.5000", "0.4500", "-0.0500", "NO"],
                    ["digits/model-new.onnx", "map50", "-", "0.5000", "-", "NO"]]
    assert main(["release", "poetry"]) == 2
    assert "release: unknown model(s) poetry: expected some of fraud-sim, commands, digits" in capsys.readouterr().err


def test_the_wheel_ships_the_catalogue(tmp_path):
    """``pip install .`` alone gets the models: they are package data (as is the commands data's word list)."""
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
                   check=True, capture_output=True)
    names = zipfile.ZipFile(next(out.glob("edgeward-*.whl"))).namelist()
    shipped = {f"edgeward/models/{p.parent.name}/{p.name}" for p in (REPO / "models").glob("*/*")
               if p.suffix in (".onnx", ".tflite")}
    assert shipped and shipped <= set(names)
    assert "edgeward/train/commands/english_words.txt" in names  # `data commands` draws `_unknown_` from it
    assert not [n for n in names if n.startswith("edgeward/tools/")]  # the maintainers' tools stay out of the wheel


@pytest.mark.full  # the released models measured on fresh data: `make test-full`
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_shipped_model_scores_on_fresh_data(name, tmp_path):
    """Each released file loads, carries complete release notes and a valid seal, and scores its released metrics
    on a small sample drawn afresh (a seed neither training nor the release measured), within the check tolerance."""
    recipe = RECIPES[name]
    model = catalogue.get(name)
    assert [f.path.name for f in model.files][0] == recipe.ship[0] and {f.path.name for f in model.files} == set(recipe.ship)
    for f in model.files:
        notes = verify_model(f.path).manifest.release
        assert notes["name"] == name and notes["recipe"] == [f"edgeward {' '.join(s)}" for s in recipe.steps]
        assert notes["seeds"] == {"data_and_training": recipe.seed, "measurement": recipe.measure_seed}
        released = {m["name"]: m["value"] for m in notes["metrics"]}
        fresh = get_task(recipe.task).measure_release(f.path, tmp_path / f.path.stem, seed=4242, small=True)
        for m in fresh:
            assert m.value >= released[m.name] - recipe.check_tolerance, (f.path.name, m, released[m.name])


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path):
    """`edgeward run detect --json | head -1`: the run stops when the pipe closes, exit 141, no traceback."""
    from edgeward.train.detect.data import write_video

    write_video(tmp_path / "v.mp4", tmp_path / "v.csv", seconds=4.0, seed=3)
    run = subprocess.Popen([sys.executable, "-m", "edgeward", "run", "detect", "--source", str(tmp_path / "v.mp4"), "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert json.loads(run.stdout.readline())["frame"] == 0
    run.stdout.close()
    assert run.wait(timeout=60) == 141
    assert b"Traceback" not in run.stderr.read()
