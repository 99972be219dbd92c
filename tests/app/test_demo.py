"""`make demo`'s flow, end to end, at toy sizes: every step of every registered task runs, writes its
artifacts and ends in a report that holds each section. The models are too small to mean anything here;
`make demo` runs the same steps at its own sizes."""

import json

import pytest

from edgeward.core.rundir import RunDir
from edgeward.export.bench import BenchOptions
from edgeward.tasks.classify.demo import ClassifyDemo
from edgeward.tasks.commands.demo import CommandsDemo
from edgeward.tasks.detect.demo import DetectDemo
from edgeward.tasks.fraud.demo import FraudDemo
from edgeward.train.commands.data import espeak_available

pytestmark = pytest.mark.full  # the demo's whole flow: `make test-full`


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make install adds it)")
def test_the_demo_runs_every_step_and_reports_each_application(tmp_path):
    from edgeward.app.demo import DemoOptions, run_demo

    quick = BenchOptions(single_rows=50, keras_single_rows=10, predict_single_rows=5, batch_repeats=2, load_repeats=1,
                         cold_repeats=1)
    sizes = {"fraud": FraudDemo(rows=30_000, epochs=2), "commands": CommandsDemo(per_class=8, epochs=2, stream_minutes=0.5),
             "detect": DetectDemo(images=60, epochs=1, size=96), "classify": ClassifyDemo(per_class=10, epochs=1)}
    lines = []
    result = run_demo(DemoOptions(out=str(tmp_path), sizes=sizes, bench=quick, full=True), log=lines.append)

    released = json.loads((tmp_path / "released.json").read_text())  # part one: the catalogue's defaults on fresh data
    assert {"digits", "fraud-sim", "commands"} <= set(released)
    assert {m["name"] for m in released["digits"]["metrics"]} == {"map50", "unseen_fonts_map50", "video_map50"}
    assert {m["name"] for m in released["commands"]["metrics"]} == {"accuracy", "stream_detected"}
    assert (tmp_path / "released" / "commands" / "events.json").exists()  # the stream's events, for the report
    steps = json.loads((tmp_path / "demo.json").read_text())["steps"]
    total = 19 + len(released)
    assert len(steps) == len(result.steps) == total and all(s["seconds"] > 0 for s in steps)
    assert [s["step"] for s in steps[:len(released)]] == [f"released model '{n}' on fresh {r['task']} data"
                                                         for n, r in released.items()]
    assert [line for line in lines if line.startswith("[")][-1].startswith(f"[{total}/{total}] write report")
    for app, files in {"fraud": ("model.onnx", "model-int8.onnx", "model-qat-int8.tflite", "model-pruned-qat-int8.onnx"),
                       "commands": ("model.onnx", "model-int8.onnx", "model.tflite", "model-int8.tflite"),
                       "detect": ("model.onnx", "model-int8.onnx", "model.tflite", "model-int8.tflite"),
                       "classify": ("model.onnx", "model-int8.onnx", "model.tflite", "model-int8.tflite")}.items():
        for name in files:
            assert (tmp_path / app / "artifacts" / name).stat().st_size > 0, (app, name)
        assert (tmp_path / app / "bench.json").exists(), app
    streams = RunDir(tmp_path / "commands").bench().payload["streams"]
    assert [s["artifact"] for s in streams] == ["model.onnx", "model-int8.onnx"]
    html = result.report.read_text()
    assert html.index("Released models, on inputs drawn afresh") < html.index("<h2>Fraud scoring</h2>")
    assert 'alt="digits: detections"' in html  # the released detector's video, with its boxes
    assert "<p>Stream: model-int8.onnx: " in html and "commands detected" in html  # the released commands model's events
    for heading in ("Fraud scoring", "Voice commands", "Object detection (digits)", "Image classification", "Steps"):
        assert f"<h2>{heading}</h2>" in html


def test_the_quick_demo_trains_exports_onnx_and_runs_without_compression(tmp_path):
    """`make demo`'s tier: data, a short training, ONNX fp32 and int8, the runtime on new inputs, a short benchmark;
    no compression and no TFLite (those are `make demo-full`'s). The report says which demo it was."""
    from edgeward.app.demo import DemoOptions, run_demo

    result = run_demo(DemoOptions(out=str(tmp_path), tasks=("fraud",), released=False,
                                  sizes={"fraud": FraudDemo(rows=20_000, epochs=1)}))
    demo = json.loads((tmp_path / "demo.json").read_text())
    assert demo["tier"] == "quick"
    assert [s["step"] for s in demo["steps"]] == [
        "simulate transactions", "train fraud MLP + baseline", "export ONNX, fp32 and int8, checked against Keras",
        "score new transactions (some damaged)", "benchmark every artifact, and the runtime vs Keras", "write report"]
    assert sorted(p.name for p in (tmp_path / "fraud" / "artifacts").glob("model*")) == ["model-int8.onnx", "model.onnx"]
    assert "The quick demo (<code>make demo</code>)" in result.report.read_text()


def test_the_demo_refuses_an_unknown_task_before_any_step(tmp_path, capsys):
    from edgeward.app.cli import main

    assert main(["demo", "--out", str(tmp_path / "d"), "--tasks", "fraud,poetry"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: unknown task 'poetry': expected one of fraud, commands, detect, classify, generic"
    assert main(["demo", "--out", str(tmp_path / "d"), "--tasks", "generic"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: tasks (--tasks): task 'generic' has no demo; the tasks that have one: fraud, commands, detect, classify"
    assert not (tmp_path / "d").exists()
