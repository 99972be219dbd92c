"""`edgeward serve`: the KServe v2 protocol driven by a client nobody here wrote (`tritonclient.http`), on an ONNX
and a TFLite fraud model and a two-input model, giving what `Model.run` gives; `/fraud/score` with bad rows;
dynamic batching, the bounded queue, the body limit, the token and `/metrics`. The server is real (uvicorn on
127.0.0.1, a free port, in a thread)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import ConfigError
from edgeward.runtime import Model
from edgeward.runtime.services.serve.app import build_app, load_models
from edgeward.runtime.services.serve.batcher import DynamicBatcher, Overloaded
from edgeward.runtime.services.serve.options import ServeOptions
from serving import get, live_options, post, running, wait_for

httpclient = pytest.importorskip("tritonclient.http")


@pytest.fixture(scope="module")
def models(fraud_run, tmp_path_factory):
    """The fraud run's ONNX model, its TFLite twin, and a two-input model adopted for the occasion."""
    run = tmp_path_factory.mktemp("serve") / "fraud"
    shutil.copytree(fraud_run, run)
    assert main(["export", str(run), "--format", "tflite", "--precision", "fp32"]) == 0
    from edgeward.core.keras_env import tf_keras

    keras = tf_keras()
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([a, b]))
    two = keras.Model([a, b], [keras.layers.Dense(2, activation="softmax", name="p")(h), keras.layers.Dense(1, name="v")(h)])
    root = run.parent
    two.save(root / "two.keras")
    rng = np.random.default_rng(0)
    np.savez(root / "two.npz", a=rng.normal(size=(64, 3)).astype(np.float32), b=rng.normal(size=(64, 2)).astype(np.float32))
    assert main(["export", "--model", str(root / "two.keras"), "--calibration", str(root / "two.npz"), "--out",
                 str(root / "two"), "--format", "onnx", "--precision", "fp32"]) == 0
    return {"fraud": run / "artifacts" / "model.onnx", "fraud_tflite": run / "artifacts" / "model.tflite",
            "two": root / "two" / "artifacts" / "model.onnx"}


def test_tritonclient_gets_what_model_run_gives_on_every_served_model(models, fraud_run):
    x = np.load(fraud_run / "holdout.npz")["x_test"][:40]
    rng = np.random.default_rng(1)
    two_feeds = {"a": rng.normal(size=(5, 3)).astype(np.float32), "b": rng.normal(size=(5, 2)).astype(np.float32)}
    specs = [f"fraud={models['fraud']}", f"fraud-tflite={models['fraud_tflite']}", f"two={models['two']}"]
    with running(specs) as url:
        client = httpclient.InferenceServerClient(url=url)
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("fraud")
        assert client.get_server_metadata()["extensions"] == ["binary_tensor_data", "model_configuration", "statistics",
                                                              "model_repository"]
        config = client.get_model_config("two")  # a model file, not a repository's: no batch limit, dims whole
        assert config["max_batch_size"] == 0 and config["input"][0] == {"name": "a", "data_type": "TYPE_FP32", "dims": [-1, 3]}
        assert [m["name"] for m in client.get_model_repository_index()] == ["fraud", "fraud-tflite", "two"]
        meta = client.get_model_metadata("two")
        assert [i["name"] for i in meta["inputs"]] == ["a", "b"] and {o["name"] for o in meta["outputs"]} == {"p", "v"}
        assert meta["inputs"][0] == {"name": "a", "datatype": "FP32", "shape": [-1, 3]}
        cases = [("fraud", models["fraud"], {"features": x}), ("fraud-tflite", models["fraud_tflite"], {"features": x}),
                 ("two", models["two"], two_feeds)]
        for name, path, feeds in cases:
            with Model(path) as m:
                expected = m.run(feeds)
            for binary in (True, False):  # the binary tensor extension (tritonclient's default) and plain JSON
                inputs = []
                for key, value in feeds.items():
                    item = httpclient.InferInput(key, list(value.shape), "FP32")
                    item.set_data_from_numpy(value, binary_data=binary)
                    inputs.append(item)
                outputs = [httpclient.InferRequestedOutput(k, binary_data=binary) for k in expected]
                result = client.infer(name, inputs, outputs=outputs, request_id="r1")
                assert result.get_response()["id"] == "r1"
                for key, value in expected.items():
                    np.testing.assert_array_equal(result.as_numpy(key), value)  # the same runtime: the same bits
        bad = httpclient.InferInput("features", [2, 3], "FP32")
        bad.set_data_from_numpy(np.zeros((2, 3), np.float32))
        with pytest.raises(Exception, match="input 'features': expected shape"):
            client.infer("fraud", [bad])
        with pytest.raises(Exception, match="unknown model 'nope': expected one of fraud, fraud-tflite, two"):
            client.get_model_metadata("nope")
        every = {m["name"]: m for m in client.get_inference_statistics()["model_stats"]}
        fraud = every["fraud"]  # two answered (binary and JSON) of 40 rows each, one refused
        assert fraud["inference_count"] == 80 and fraud["inference_stats"]["success"]["count"] == 2
        assert fraud["inference_stats"]["fail"]["count"] == 1 and 1 <= fraud["execution_count"] <= 2
        assert fraud["inference_stats"]["compute_infer"]["ns"] > 0 and fraud["last_inference"] > 0
        assert every["two"]["inference_count"] == 10 and set(every) == {"fraud", "fraud-tflite", "two"}
        client.close()


def test_tritonclient_grpc_gets_what_the_http_side_and_model_run_give(models, fraud_run, tmp_path, capsys):
    """``--grpc-port``: Triton's gRPC protocol beside HTTP on the same models, batchers and checks; a repository's
    max_batch_size refused as Triton refuses it; the token asked for in the call's metadata."""
    grpcclient = pytest.importorskip("tritonclient.grpc")
    from streams import free_port

    repo = tmp_path / "repo"
    assert main(["triton", str(repo), f"scorer={models['fraud']}"]) == 0
    capsys.readouterr()
    x = np.load(fraud_run / "holdout.npz")["x_test"][:40]
    port = free_port()
    options = ServeOptions(grpc_port=port, token="grpc-token-1")
    with running([str(repo), f"two={models['two']}"], options) as url, Model(models["fraud"]) as m:
        client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        auth = {"authorization": "Bearer grpc-token-1"}
        with pytest.raises(Exception, match="expected the metadata authorization: Bearer TOKEN"):
            client.get_server_metadata()
        assert client.is_server_live(headers=auth) and client.is_model_ready("scorer", headers=auth)
        assert list(client.get_server_metadata(headers=auth).extensions) == ["binary_tensor_data", "model_configuration",
                                                                             "statistics", "model_repository"]
        meta = client.get_model_metadata("two", headers=auth, as_json=True)
        assert meta["inputs"][0] == {"name": "a", "datatype": "FP32", "shape": ["-1", "3"]}  # int64 as JSON strings
        config = client.get_model_config("scorer", headers=auth, as_json=True)["config"]
        assert config["max_batch_size"] == 64 and config["input"][0]["dims"] == [str(x.shape[1])]
        assert [i.name for i in client.get_model_repository_index(headers=auth).models] == ["scorer", "two"]
        expected = m.run(x)
        item = grpcclient.InferInput("features", list(x.shape), "FP32")
        item.set_data_from_numpy(x)
        got = client.infer("scorer", [item], headers=auth, request_id="g1")
        assert got.get_response().id == "g1"
        for name, value in expected.items():
            np.testing.assert_array_equal(got.as_numpy(name), value)  # the same runtime: the same bits
        big = np.zeros((65, x.shape[1]), np.float32)
        item = grpcclient.InferInput("features", list(big.shape), "FP32")
        item.set_data_from_numpy(big)
        with pytest.raises(Exception, match="inference request batch-size must be <= 64 for 'scorer'"):
            client.infer("scorer", [item], headers=auth)
        with pytest.raises(Exception, match="unknown model 'nope'"):
            client.get_model_metadata("nope", headers=auth)
        [stats] = client.get_inference_statistics("scorer", headers=auth, as_json=True)["model_stats"]
        assert stats["inference_count"] == "40" and stats["inference_stats"]["fail"]["count"] == "1"
        code, body = get(url, "/v2/models/scorer/stats", {"Authorization": "Bearer grpc-token-1"})  # one count, both sides
        assert code == 200 and json.loads(body)["model_stats"][0]["inference_count"] == 40
        client.unload_model("two", headers=auth)
        assert not client.is_model_ready("two", headers=auth)
        with pytest.raises(Exception, match="model 'two' is unloaded"):
            client.get_model_metadata("two", headers=auth)
        client.load_model("two", headers=auth)
        assert client.is_model_ready("two", headers=auth)
        client.close()
    assert main(["serve", str(repo), "--grpc-port", "70000"]) == 2
    assert "grpc_port (--grpc-port): expected a TCP port, 1-65535, not --port's, got 70000" in capsys.readouterr().err


def test_fraud_score_scores_good_rows_and_names_bad_ones(models, fraud_run):
    with Model(models["fraud"]) as m:
        features = m.manifest.features
        x = np.load(fraud_run / "holdout.npz")["x_test"][:3]
        expected = m.run(x)[m.output_names[0]].reshape(-1)
        threshold = m.manifest.thresholds["decision"]
    rows = [dict(zip(features, map(float, r))) for r in x]
    with running([str(models["fraud"])]) as url:
        status, doc = post(url, "/fraud/score", rows[0])
        assert status == 200 and doc["rejects"] == [] and doc["threshold"] == threshold
        assert doc["scores"][0]["row"] == 0 and abs(doc["scores"][0]["score"] - expected[0]) < 1e-6
        bad = [rows[0], {**rows[1], features[2]: "abc"}, {k: v for k, v in rows[2].items() if k != features[0]}, rows[2]]
        status, doc = post(url, "/fraud/score", {"rows": bad})
        assert status == 422
        assert [s["row"] for s in doc["scores"]] == [0, 3]
        np.testing.assert_allclose([s["score"] for s in doc["scores"]], [expected[0], expected[2]], atol=1e-6)
        within = "a finite number within float32's range"
        assert doc["rejects"] == [{"row": 1, "field": features[2], "expected": within, "got": "abc"},
                                  {"row": 2, "field": features[0], "expected": within, "got": "missing"}]
        assert post(url, "/fraud/score", b"{not json")[0] == 400
        status, text = get(url, "/metrics")
        assert status == 200 and b'edgeward_requests_total{route="fraud_score",status="422"} 1.0' in text
        assert b"edgeward_batch_rows_count" in text


def test_limits_and_the_token(models):
    options = ServeOptions(host="0.0.0.0", token="s3cret-token", max_body_mb=0.001)
    with running([str(models["fraud"])], options) as url:
        assert get(url, "/v2/health/live")[0] == 200  # health checks need no token
        assert get(url, "/v2/models/fraud")[0] == 401
        assert get(url, "/v2/models/fraud", {"Authorization": "Bearer s3cret-token"})[0] == 200
        status, doc = post(url, "/fraud/score", b"x" * 5000, {"Authorization": "Bearer s3cret-token"})
        assert status == 413 and "exceeds the limit of 1,048 bytes" in doc["error"]
    with pytest.raises(ConfigError, match=r"host \(--host\): expected 127.0.0.1 unless --token is given"):
        ServeOptions(host="0.0.0.0")
    assert main(["serve", str(models["fraud"]), "--host", "0.0.0.0"]) == 2


def test_dynamic_batching_joins_requests_and_a_full_queue_refuses():
    calls = []

    def run(feeds):
        calls.append(len(feeds["x"]))
        time.sleep(0.01)
        return {"y": feeds["x"] * 2}

    async def scenario():
        batcher = DynamicBatcher(run, max_batch=8, max_delay_s=0.005, max_queue=20)
        rows = [np.full((1, 2), i, np.float32) for i in range(12)]
        out = await asyncio.gather(*(batcher.submit({"x": r}) for r in rows))
        for i, o in enumerate(out):  # each request gets its own rows back
            np.testing.assert_array_equal(o["y"], np.full((1, 2), 2 * i))
        first = [batcher.submit({"x": np.zeros((15, 2), np.float32)}), batcher.submit({"x": np.zeros((6, 2), np.float32)})]
        results = await asyncio.gather(*first, return_exceptions=True)
        batcher.close()
        return results

    results = asyncio.run(scenario())
    assert calls[:2] == [8, 4]  # 12 single-row requests: two model calls
    assert isinstance(results[1], Overloaded) and "exceed the limit of 20" in str(results[1])
    assert not isinstance(results[0], Exception) and results[0]["y"].shape == (15, 2)


def test_live_video_and_audio_sources(detect_run, commands_run, detect_data, commands_data):
    models, options = live_options(detect_run, commands_run, detect_data, commands_data)
    with running(models, options) as url:
        def drawn():
            d = json.loads(get(url, "/detect/latest")[1])
            return d if d["frame"] >= 3 and d["detections"] else None

        latest = wait_for(drawn)
        assert latest["error"] is None and {"label", "score", "box"} <= set(latest["detections"][0])
        with urllib.request.urlopen(f"http://{url}/detect/stream") as r:
            assert r.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
            chunk = r.read(2048)
        assert chunk.startswith(b"--frame\r\nContent-Type: image/jpeg\r\n") and b"\r\n\r\n\xff\xd8" in chunk  # a JPEG
        # the picture of the very frame /detect/latest described (what the page shows under its caption)
        with urllib.request.urlopen(f"http://{url}/detect/frame.jpg?n={latest['frame']}") as r:
            assert r.headers["X-Edgeward-Frame"] == str(latest["frame"]) and r.read(2) == b"\xff\xd8"
        assert get(url, "/detect/frame.jpg?n=99999999999")[0] == 404 and get(url, "/detect/frame.jpg?n=-1")[0] == 400
        assert get(url, "/detect/frame.jpg")[0] == 200
        with urllib.request.urlopen(f"http://{url}/events", timeout=30) as r:
            line = next(line for line in r if line.startswith(b"data: "))
        event = json.loads(line[6:])
        assert {"seq", "label", "score", "start", "end"} <= set(event) and event["label"] not in ("_silence_", "_unknown_")
        # a client that reconnects says the last event it saw (server-sent events' Last-Event-ID): nothing is replayed
        resume = urllib.request.Request(f"http://{url}/events", headers={"Last-Event-ID": str(event["seq"])})
        with urllib.request.urlopen(resume, timeout=60) as r:
            line = next(line for line in r if line.startswith(b"data: "))
        assert json.loads(line[6:])["seq"] > event["seq"]
        stats = json.loads(get(url, "/stats")[1])
        assert stats["video"]["frames"] >= 3 and stats["video"]["fps"] > 0 and stats["audio"]["events"] >= 1
        assert b"edgeward_frames_dropped" in get(url, "/metrics")[1]
        assert "<title>edgeward</title>" in get(url, "/")[1].decode()
    with pytest.raises(Exception, match="--source stream.wav: no served model takes audio"):
        load = load_models([str(detect_run / "artifacts" / "model.onnx")], ServeOptions())
        build_app(load, ServeOptions(source=("stream.wav",)))


def test_the_live_sources_runtimes_take_their_own_flags():
    """``serve``'s flags include the options of every runtime that takes video or audio (from the registry), and
    each runtime gets its own; one whose options were not given runs with its defaults."""
    from edgeward.app.cli import parser, serve_options
    from edgeward.runtime import CommandRecognizer, Detector, FraudScorer
    from edgeward.runtime.tasks.detect import DetectorOptions

    options = serve_options(parser().parse_args(["serve", "m.onnx", "--score-threshold", "0.9", "--hop-ms", "100",
                                                 "--once"]))
    assert options.once and options.runtime_options(Detector)["options"].score_threshold == 0.9
    assert options.runtime_options(CommandRecognizer)["options"].hop_ms == 100
    assert options.runtime_options(FraudScorer) == {}
    assert ServeOptions().runtime_options(Detector) == {"options": DetectorOptions()}


def _raw(url: str, request: bytes, close_after_send: bool = False, timeout: float = 30.0) -> bytes:
    """What the server answers to these bytes on a fresh connection (b"" if it closes without an answer)."""
    import socket

    host, port = url.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        if close_after_send:
            return b""
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_hostile_requests_are_400s_that_name_the_field(models):
    """Issue 37's server cases: each was an HTTP 500 with a traceback on the console."""
    tensor = {"name": "features", "shape": [1, 30], "datatype": "FP32", "data": [0.0] * 30}
    cases = [
        ({"inputs": [{**tensor, "datatype": "INT64", "data": [2 ** 70] + [0] * 29}]},
         "inputs[0] (features): data: expected INT64 numbers from -9223372036854775808 to 9223372036854775807"),
        ({"inputs": [{**tensor, "name": ["features"]}]}, 'inputs[0].name: expected a name (a string), got ["features"]'),
        ({"inputs": [tensor], "parameters": [1]}, "parameters: expected an object, got [1]"),
        ({"inputs": [tensor], "outputs": [{"name": ["score"]}]}, 'outputs[0].name: expected a name (a string), got ["score"]'),
        ({"inputs": [{"name": "features", "shape": [2 ** 62, 4], "datatype": "FP32"}]},
         "inputs[0] (features): shape [4611686018427387904, 4]: 18,446,744,073,709,551,616 values, more than a request"),
        ({"inputs": [{**tensor, "parameters": {"binary_data_size": 1.5}}]},
         "inputs[0] (features): parameters.binary_data_size: expected a whole number of bytes, got 1.5"),
        ({"inputs": [tensor, tensor]}, "inputs[1].name: 'features' is given twice"),
    ]
    with running([str(models["fraud"])]) as url:
        for doc, message in cases:
            status, answer = post(url, "/v2/models/fraud/infer", doc)
            assert status == 400 and answer["error"].startswith(message), (doc, answer)
        deep = b"[" * 100_000 + b"]" * 100_000
        status, answer = post(url, "/v2/models/fraud/infer", deep)
        assert status == 400 and answer["error"] == ("request: expected a JSON inference request nested at most 40 "
                                                     "levels deep, got 100000")
        assert post(url, "/fraud/score", deep)[0] == 400
        features = Model(models["fraud"]).manifest.features
        row = {name: 0.0 for name in features}
        status, answer = post(url, "/fraud/score", b'{"rows": [{"' + features[0].encode() + b'": ' + b"9" * 400 + b"}]}")
        assert status == 422 and answer["rejects"][0]["field"] == features[0]
        assert answer["rejects"][0]["got"].startswith("9999") and answer["rejects"][0]["got"].endswith("...")
        assert post(url, "/fraud/score", {"rows": [row]})[0] == 200
        status, text = get(url, "/events?after=abc")
        assert status == 400 and b"query 'after': expected the number of the last event seen" in text


def test_a_body_that_never_completes_gets_408_and_a_client_that_hangs_up_one_line(models, caplog, capfd):
    import logging

    options = ServeOptions(body_timeout_s=1.0)
    promise = (b"POST /v2/models/fraud/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 1000\r\n\r\n{\"inputs\": [")
    with running([str(models["fraud"])], options) as url, caplog.at_level(logging.WARNING, "edgeward.serve"):
        answer = _raw(url, promise)
        assert answer.startswith(b"HTTP/1.1 408") and b"12 bytes of the 1,000 promised arrived in 1 s" in answer
        for _ in range(20):  # clients that send part of a body, then hang up
            _raw(url, promise, close_after_send=True)
        wait_for(lambda: sum("went away" in r.getMessage() for r in caplog.records) >= 1, 10)
        row = {name: 0.0 for name in Model(models["fraud"]).manifest.features}
        assert post(url, "/fraud/score", {"rows": [row]})[0] == 200  # the server still answers
    assert not [r for r in caplog.records if r.exc_info]  # lines, not tracebacks
    assert "Traceback" not in capfd.readouterr().err


def test_the_cli_server_binds_before_it_says_so_and_a_taken_port_is_one_line(released_fraud, tmp_path):
    """`edgeward serve` as a user runs it (a real process): a released name served under that name; a second server
    on the same port says in one line that it cannot listen, without first claiming to serve; SIGINT stops the first."""
    import signal
    import subprocess
    import sys

    from streams import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    launcher = ("import sys, conftest_catalogue; conftest_catalogue.use(sys.argv.pop(1)); "
                "from edgeward.app.cli import main; sys.exit(main(sys.argv[1:]))")
    cmd = [sys.executable, "-c", launcher, str(released_fraud.parent.parent), "serve", "fraud-sim", "--port", str(port)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = first.stdout.readline()
        assert f"serving fraud-sim (fraud, onnx fp32) at http://127.0.0.1:{port}/v2/models/fraud-sim" in line, \
            line + first.stderr.read()
        wait_for(lambda: get(f"127.0.0.1:{port}", "/v2/models/fraud-sim")[0] == 200)
        second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 1 and "serving" not in second.stdout, (second.stdout, second.stderr)
        errors = [x for x in second.stderr.splitlines() if x.startswith("error: ")]
        assert len(errors) == 1 and f"--port {port}: cannot listen there" in errors[0], second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) in (0, 130), first.stderr.read()


def test_a_file_source_says_it_loops_and_can_play_once(detect_run, detect_data):
    from edgeward.runtime.services.serve.live import describe_sources
    from edgeward.runtime.io.video import read_frames

    video = str(detect_data / "video.mp4")
    assert describe_sources(ServeOptions(source=(video,))) == [
        f"live source {video} -> video, a file: it starts again at its end (--once plays it once)"]
    options = ServeOptions(source=(video,), once=True, pace_files=False)
    assert describe_sources(options) == [f"live source {video} -> video, a file, played once (--once)"]
    frames = len(read_frames(video))
    with running([str(detect_run / "artifacts" / "model.onnx")], options) as url:
        stats = wait_for(lambda: (doc := json.loads(get(url, "/stats")[1]))["video"]["ended"] and doc)
        assert stats["video"]["frames"] == frames and stats["video"]["error"] is None
        assert json.loads(get(url, "/stats")[1])["video"]["frames"] == frames  # and no second pass after it


def test_bench_serve_takes_a_model_as_every_verb_does(released_fraud, fraud_run, detect_run, tmp_path, capsys):
    """``bench-serve`` measures a released name (inputs drawn at random) and a run folder (its held-out inputs, the
    result kept in the run) through real servers: the task's own route where it has one (fraud's), KServe v2 infer
    for every model (a detection run's). Only that it runs and answers every request is checked, not its speed."""
    import shutil

    from edgeward.app.cli import main

    runs = {task: tmp_path / task for task in ("fraud", "detect")}
    shutil.copytree(fraud_run, runs["fraud"])
    shutil.copytree(detect_run, runs["detect"], ignore=shutil.ignore_patterns("*.tflite", "*int8*"))
    from streams import free_port

    port = free_port()  # the run folder's servers on a port given, one after another (gRPC on the next)
    for source, flags in (("fraud-sim", []), (str(runs["fraud"]), ["--port", str(port)])):
        assert main(["bench-serve", source, "--seconds", "0.5", "--clients", "1", *flags]) == 0
        out = capsys.readouterr().out
        assert "`POST /fraud/score`" in out and "| on | 1 |" in out and "| off | 1 |" in out, out
    assert "| grpc | 1 |" in out and "| http | 1 |" in out, out  # KServe v2 infer over both protocols
    result = json.loads((runs["fraud"] / "serve-bench.json").read_text())
    assert result["rows"] == f"held-out inputs of {runs['fraud']}" and result["route"] == "/fraud/score"
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in result["http"]) and result["in_process"]["requests"] > 0
    assert [r["protocol"] for r in result["protocols"]] == ["http", "grpc"]
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in result["protocols"])
    # a task without a route of its own: its model's KServe v2 infer, on the run's held-out images
    assert main(["bench-serve", str(runs["detect"]), "--seconds", "0.5", "--clients", "1"]) == 0
    out = capsys.readouterr().out
    assert "POST" not in out and "| http | 1 |" in out, out
    result = json.loads((runs["detect"] / "serve-bench.json").read_text())
    assert result["route"] is None and result["http"] == [] and result["rows"].startswith("held-out inputs")
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in result["protocols"])
    assert main(["bench-serve", "digits-nope", "--seconds", "0.5"]) == 2
    assert "neither a model file nor a catalogue model" in capsys.readouterr().err


def test_the_server_socket_sends_answers_as_written():
    """A response written in two parts (headers, then body) must not wait for the client's delayed ACK: the
    listening socket has TCP_NODELAY, and what it accepts inherits it (docs/decisions.md, "Serving"). The option is
    checked, not a time."""
    import socket

    from edgeward.runtime.services.serve.app import listen

    server = listen("127.0.0.1", 0)
    with server, socket.create_connection(server.getsockname()):
        accepted, _ = server.accept()
        with accepted:
            assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
