"""The bad-input matrix: one table of damaged or wrong inputs across what edgeward takes (model files, CSV rows,
WAV files, images and video sources, options), each with the expected outcome: a one-line error of edgeward's own
type naming the file, line or field (exit code 2 from the CLI), or a stated recovery. Never a traceback, a hang or
a silent wrong result. `python -m tests.test_bad_inputs` prints the table as Markdown (docs/reliability.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pandas as pd
import pytest
from streams import free_port

from edgeward.app.cli import main
from edgeward.core.errors import EdgewardError
from edgeward.core.manifest import METADATA_KEY


@dataclass(frozen=True)
class Case:
    area: str
    what: str  # the input, in words
    call: Callable  # (env) -> argv list for the CLI, or a callable for the Python API
    expect: str  # a substring of the one-line error, or "ok: ..." for a recovery checked by ``check``
    check: Callable | None = None  # (env, result) -> None, for recoveries
    code: int = 2  # the CLI's exit code: 2 for bad input, 1 for a device this host lacks
    stderr: str = ""  # for recoveries: what the run's summary on stderr must say


def wav(rate=16000, channels=1, bits=16, tag=1, samples=b"\x00\x00" * 1600, declared=None) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    data_size = len(samples) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


class Env:
    """Paths the cases use: the fraud model and a clean CSV of its schema, a detector and its images."""

    def __init__(self, tmp: Path, fraud_model: Path, fraud_csv: Path, detect_run: Path, detect_data: Path, request):
        self.tmp, self.fraud_model, self.detect_model = tmp, fraud_model, detect_run / "artifacts" / "model.onnx"
        self.detect_data, self._request, self.servers = detect_data, request, []
        self.frame = pd.read_csv(fraud_csv, nrows=200, dtype=str, keep_default_na=False)
        self.lines = Path(fraud_csv).read_bytes().splitlines(keepends=True)[:201]
        self.features = list(onnx_manifest(fraud_model)["features"])
        self.n = 0

    def file(self, data: bytes | str, suffix: str) -> str:
        self.n += 1
        path = self.tmp / f"case{self.n}{suffix}"
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(path)

    def csv(self, mutate=None, raw: bytes | None = None) -> str:
        if raw is not None:
            return self.file(raw, ".csv")
        lines = list(self.lines)
        if mutate:
            lines = mutate(lines)
        return self.file(b"".join(lines), ".csv")

    def score(self, path: str, *extra: str) -> list[str]:
        self.out = str(self.tmp / f"scores{self.n}.csv")
        return ["score", str(self.fraud_model), "--input", path, "--out", self.out, *extra]

    @property
    def commands_model(self) -> str:
        """The commands model (trained only when a case needs it)."""
        return str(self._request.getfixturevalue("commands_run") / "artifacts" / "model.onnx")

    def stream(self, **kwargs) -> str:
        """The URL of a real local MJPEG server (tests/streams.py)."""
        from streams import MjpegServer

        self.servers.append(MjpegServer(**kwargs))
        return self.servers[-1].url

    def silent_listener(self, scheme: str) -> str:
        """A URL on a TCP port that accepts connections and never says a word (a camera that hangs)."""
        import socket
        import threading

        server = socket.create_server(("127.0.0.1", 0))
        held = []
        threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)], daemon=True).start()
        self.servers.append(server)
        return f"{scheme}://127.0.0.1:{server.getsockname()[1]}/stream"

    def http_file(self, path: str) -> str:
        """The URL of ``path`` served by a real local HTTP file server."""
        import functools
        import http.server
        import threading

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(Path(path).parent)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        server.close = lambda: (server.shutdown(), server.server_close())
        self.servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/{Path(path).name}"

    def model_with(self, edit) -> str:
        proto = onnx.load(self.fraud_model)
        edit(proto)
        self.n += 1
        path = self.tmp / f"model{self.n}.onnx"
        onnx.save(proto, path)
        return str(path)


def onnx_manifest(path) -> dict:
    import json

    proto = onnx.load(path)
    return json.loads(next(p.value for p in proto.metadata_props if p.key == METADATA_KEY))


def set_manifest(field, value):
    def edit(proto):
        import json

        prop = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
        data = json.loads(prop.value)
        data[field] = value
        prop.value = json.dumps(data)
    return edit


def manifest_text(text: str):
    def edit(proto):
        next(p for p in proto.metadata_props if p.key == METADATA_KEY).value = text
    return edit


def weights_at(location: str):
    """The first initializer's data moved to an external file at ``location``."""
    def edit(proto):
        tensor = proto.graph.initializer[0]
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", location
    return edit


def flipped(env) -> str:
    """The exported fraud model with one byte of its weights changed."""
    data = bytearray(Path(env.fraud_model).read_bytes())
    proto = onnx.load_from_string(bytes(data))
    weights = proto.graph.initializer[0].raw_data
    at = bytes(data).find(weights[:64])
    data[at + 5] ^= 0xFF
    return env.file(bytes(data), ".onnx")


def formula_escaped(env) -> None:
    scores = pd.read_csv(env.out, dtype=str)
    assert "'=HYPERLINK(1)" in set(scores.iloc[:, 1]) and not scores.iloc[:, 1].str.startswith("=").any()


def accounted(expected_rejects: int):
    def check(env, _):
        scores = pd.read_csv(env.out)
        rejects = pd.read_csv(env.out.replace(".csv", ".rejects.csv"), keep_default_na=False)
        assert len(scores) + len(rejects) == 200 and len(rejects) == expected_rejects, (len(scores), len(rejects))
    return check


def mutate_feature(env, line_index: int, value: bytes, feature_index: int = 0) -> str:
    header = env.lines[0].decode().strip().split(",")
    col = header.index(env.features[feature_index])

    def mutate(lines):
        row = lines[line_index].rstrip(b"\r\n").split(b",")
        row[col] = value
        return lines[:line_index] + [b",".join(row) + b"\n"] + lines[line_index + 1:]
    return env.csv(mutate)


def damaged_folder(env) -> str:
    import shutil

    folder = env.tmp / "damaged-images"
    if not folder.exists():
        shutil.copytree(env.detect_data / "images" / "test", folder)
        (folder / "00002.jpg").write_bytes(b"")  # a 0-byte image between good ones
    return str(folder)


def image_files(env, kinds: dict) -> str:
    """A folder of images, each written by OpenCV from the array given for its name."""
    import cv2

    env.n += 1
    folder = env.tmp / f"images{env.n}"
    folder.mkdir()
    for name, pixels in kinds.items():
        assert cv2.imwrite(str(folder / name), pixels)
    return str(folder)


def huge(env, suffix: str) -> str:
    """A real small image whose header is edited to declare 60,000 x 60,000 pixels (a decompression bomb)."""
    import cv2

    data = bytearray(cv2.imencode(suffix, np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    if suffix == ".png":
        data[16:24] = struct.pack(">II", 60_000, 60_000)
    else:  # the JPEG frame header: FF C0, length, precision, height, width
        at = data.index(b"\xff\xc0")
        data[at + 5: at + 9] = struct.pack(">HH", 60_000, 60_000)
    return env.file(bytes(data), suffix)


def read_image_of(path_of):
    def call(env):
        from edgeward.runtime.io.video import read_image

        return read_image(path_of(env))
    return call


def frames_seen(count: int):
    def check(env, out):
        import json

        assert len([json.loads(line) for line in out.splitlines()]) == count, out
    return check


def last_frame(number: int):
    """A live source may drop frames; the last one read says whether the source was played past its end."""
    def check(env, out):
        import json

        assert json.loads(out.splitlines()[-1])["frame"] == number, out
    return check


def commands_layout(env, folders: dict[str, bytes]):
    from edgeward.runtime.io.audio_features import FrontEnd
    from edgeward.train.commands.data import load_clips

    env.n += 1
    root = env.tmp / f"speech{env.n}"
    for name, data in folders.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return load_clips(root, FrontEnd())


def coco(env, annotations: list[dict]):
    """A COCO JSON file of one 64x48 image and one category, with the annotations given."""
    import json

    from edgeward.train.detect.labels import load_coco

    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
           "categories": [{"id": 7, "name": "seven"}], "annotations": annotations}
    return load_coco(env.file(json.dumps(doc), ".json"), env.tmp)


def yolo_labels(env, text: str):
    from edgeward.train.detect.labels import read_yolo_labels

    return read_yolo_labels(Path(env.file(text, ".txt")), 10)


def class_folders(env, classes: list[str], empty: str | None = None):
    from edgeward.train.classify.data import load_class_folders

    env.n += 1
    root = env.tmp / f"classes{env.n}"
    for name in classes:
        (root / name).mkdir(parents=True)
        if name != empty:
            for i in range(4):
                (root / name / f"{i}.png").write_bytes(Path(sorted((env.detect_data / "images" / "test").glob("*.jpg"))[i])
                                                       .read_bytes())
    return load_class_folders(root, 32)


def detector(env):
    from edgeward.runtime.tasks.detect import Detector

    return Detector.from_file(env.detect_model)


def read_wav_of(data: bytes):
    def call(env):
        from edgeward.runtime.io.audio_io import read_wav

        return read_wav(env.file(data, ".wav"))
    return call


def all_stereo(results) -> None:
    assert all(x.shape == (100, 2) and rate == 16000 for x, rate in results), [(x.shape, rate) for x, rate in results]


def model_folder(env, *inside: str) -> str:
    """A new folder holding copies of the files ``inside`` (as m0, m1, ... with their suffixes; a name ending in / is
    an empty subfolder)."""
    import shutil

    env.n += 1
    path = env.tmp / f"folder{env.n}"
    path.mkdir()
    for i, item in enumerate(inside):
        if item.endswith("/"):
            (path / item).mkdir()
        else:
            shutil.copy(item, path / f"m{i}{Path(item).suffix}")
    return str(path)


def fifo(env) -> str:
    """A named pipe nobody writes to: a reader that opens it blocks for good."""
    import os

    env.n += 1
    path = env.tmp / f"pipe{env.n}"
    os.mkfifo(path)
    return str(path)


def thin_video(env) -> str:
    """A real MJPEG video 1 pixel wide and 1,000 tall (its letterbox rounds the width to 0 pixels)."""
    import cv2

    env.n += 1
    path = env.tmp / f"thin{env.n}.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1, 1000))
    for _ in range(3):
        writer.write(np.full((1000, 1, 3), 120, np.uint8))
    writer.release()
    return str(path)


def profile(env, text: str | bytes, **fields) -> str:
    """A device profile file: x86-64-cpu's with ``fields`` replaced or added (TOML values as written), or ``text``
    itself."""
    if not text:
        lines = (Path(__file__).resolve().parents[2] / "devices" / "profiles" / "x86-64-cpu.toml").read_text().splitlines()
        keys = [line.split("=")[0].strip() for line in lines]
        text = "\n".join([f"{key} = {fields[key]}" if key in fields else line for key, line in zip(keys, lines)] +
                         [f"{key} = {value}" for key, value in fields.items() if key not in keys]) + "\n"
    return env.file(text, ".toml")


def folder(env, name: str) -> str:
    (env.tmp / name).mkdir(exist_ok=True)
    return str(env.tmp / name)


def saw_a_list(env, result) -> None:
    assert isinstance(result, list), result


def api(fn):
    fn.api = True
    return fn


CASES = [
    # model files ------------------------------------------------------------------------------------------------
    Case("model file", "an empty file", lambda e: ["score", e.file(b"", ".onnx"), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "expected an ONNX or TFLite model, got 0 bytes"),
    Case("model file", "random bytes", lambda e: ["score", e.file(np.random.default_rng(0).bytes(5000), ".onnx"),
                                                  "--input", e.csv(), "--out", str(e.tmp / "o.csv")], "not a loadable ONNX model"),
    Case("model file", "an ONNX file cut in half", lambda e: ["score", e.file(Path(e.fraud_model).read_bytes()[:2000], ".onnx"),
                                                            "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "not a loadable ONNX model"),
    Case("model file", "a TFLite file cut short", lambda e: ["score", e.file(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40, ".tflite"),
                                                           "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "not a loadable TFLite model"),
    Case("model file", "an ONNX model without the manifest",
         lambda e: ["score", e.model_with(lambda p: p.metadata_props.pop()), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "no edgeward manifest in the file"),
    Case("model file", "a manifest that is not JSON",
         lambda e: ["score", e.model_with(lambda p: setattr(p.metadata_props[-1], "value", "{oops")), "--input", e.csv(),
                    "--out", str(e.tmp / "o.csv")], "manifest is not valid JSON"),
    Case("model file", "a manifest of an unknown schema version",
         lambda e: ["score", e.model_with(set_manifest("schema", 99)), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "manifest schema version 99 is not supported"),
    Case("model file", "a manifest whose thresholds are text",
         lambda e: ["score", e.model_with(set_manifest("thresholds", "high")), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "manifest field 'thresholds'"),
    Case("model file", "a manifest whose features are a number",
         lambda e: ["score", e.model_with(set_manifest("features", 5)), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "manifest field 'features'"),
    Case("model file", "a manifest whose input shape is text",
         lambda e: ["score", e.model_with(lambda p: set_manifest("inputs", [{**onnx_manifest(e.fraud_model)["inputs"][0],
                                                                             "shape": "big"}])(p)),
                    "--input", e.csv(), "--out", str(e.tmp / "o.csv")], "manifest field 'inputs[0]"),
    Case("model file", "a manifest input name the graph does not have",
         lambda e: ["score", e.model_with(lambda p: set_manifest("inputs", [{**onnx_manifest(e.fraud_model)["inputs"][0],
                                                                             "name": "other"}])(p)),
                    "--input", e.csv(), "--out", str(e.tmp / "o.csv")], "the graph's inputs are ['features']"),
    Case("model file", "weights stored outside the model's folder (../../etc/passwd)",
         lambda e: ["score", e.model_with(weights_at("../../etc/passwd")), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "keeps its data outside the file at '../../etc/passwd'; expected a file inside the model's folder"),
    Case("model file", "a manifest nested 5,000 levels deep",
         lambda e: ["score", e.model_with(manifest_text("[" * 5000 + "]" * 5000)), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "manifest nested 5000 levels deep; expected at most 32"),
    Case("model file", "a manifest of 5 MB", lambda e: ["score", e.model_with(manifest_text('"' + "x" * 5_000_000 + '"')),
                                                        "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "manifest of 5,000,002 bytes; expected at most 4,194,304"),
    Case("model file", "`verify` of a model whose weights changed after export", lambda e: ["verify", flipped(e)],
         "modified since export: its SHA-256 is"),
    Case("model file", "a detection model given to `score`",
         lambda e: ["score", str(e.detect_model), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "a detect model scores no files of rows"),
    Case("model file", "`verify /dev/zero`", lambda e: ["verify", "/dev/zero"],
         "/dev/zero: expected a model file (.onnx or .tflite), got a character device"),
    Case("model file", "`verify` of a FIFO", lambda e: ["verify", fifo(e)],
         "expected a model file (.onnx or .tflite), got a FIFO (named pipe)"),
    Case("model file", "a folder with no model given as the model",
         lambda e: ["score", model_folder(e), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "expected a model file (.onnx or .tflite), a run folder with artifacts/ or a Triton repository, got a folder "
         "without one"),
    Case("model file", "a folder of two model files given as the model",
         lambda e: ["score", model_folder(e, str(e.fraud_model), str(e.fraud_model)), "--input", e.csv(), "--out",
                    str(e.tmp / "o.csv")], "2 model files (m0.onnx, m1.onnx); give one:"),
    Case("model file", "a run folder that was never exported",
         lambda e: ["score", model_folder(e, "artifacts/"), "--input", e.csv(), "--out", str(e.tmp / "o.csv")],
         "a run folder without an exported model for x86-64-cpu in"),
    Case("model file", "a released model's name given where a run folder is taken (`bench fraud-sim`)",
         lambda e: ["bench", "fraud-sim"], "fraud-sim: a released model, not a run folder; `edgeward bench` takes a run "
                                           "folder"),
    Case("model file", "a voice-commands model given to `batch`",
         lambda e: ["batch", e.commands_model, "--input", e.csv(), "--output", str(e.tmp / "batch-out")],
         "a commands model; batch scores rows with fraud models and images with detect and classify models"),
    # CSV rows (score) -------------------------------------------------------------------------------------------
    Case("CSV", "an empty file", lambda e: e.score(e.csv(raw=b"")), "line 1: expected a header row, got 'an empty file'"),
    Case("CSV", "a header only", lambda e: e.score(e.csv(lambda lines: lines[:1])), "ok: 0 rows scored, 0 rejected",
         lambda e, r: None),
    Case("CSV", "a feature column missing", lambda e: e.score(e.csv(raw=b"tx_id,amount\n1,2\n")),
         "line 1, field 'hour': expected a column for every model feature"),
    Case("CSV", "the same column twice", lambda e: e.score(e.csv(lambda lines: [lines[0].rstrip(b"\r\n") + b",amount\n"]
                                                                   + [x.rstrip(b"\r\n") + b",1\n" for x in lines[1:]])),
         "line 1, field 'amount': expected unique column names"),
    Case("CSV", "another delimiter (;)", lambda e: e.score(e.csv(lambda lines: [x.replace(b",", b";") for x in lines])),
         "expected a column for every model feature"),
    Case("CSV", "columns reordered and one extra", lambda e: e.score(e.file(
        e.frame[list(reversed(e.frame.columns))].assign(note="x").to_csv(index=False), ".csv")),
        "ok: every row scored", accounted(0)),
    Case("CSV", "CRLF line ends", lambda e: e.score(e.csv(lambda lines: [x.rstrip(b"\r\n") + b"\r\n" for x in lines])),
         "ok: every row scored", accounted(0)),
    Case("CSV", "a UTF-8 byte-order mark", lambda e: e.score(e.csv(lambda lines: [b"\xef\xbb\xbf" + lines[0]] + lines[1:])),
         "ok: every row scored", accounted(0)),
    Case("CSV", "numbers in quotes", lambda e: e.score(e.csv(lambda lines: lines[:1] + [b",".join(b'"' + v + b'"' for v in
                                                                                      x.rstrip(b"\r\n").split(b",")) + b"\n"
                                                                                      for x in lines[1:]])),
         "ok: every row scored", accounted(0)),
    Case("CSV", "a missing value", lambda e: e.score(mutate_feature(e, 5, b"")), "ok: one reject", accounted(1)),
    Case("CSV", "text in a feature", lambda e: e.score(mutate_feature(e, 5, b"noon")), "ok: one reject", accounted(1)),
    Case("CSV", "NaN in a feature", lambda e: e.score(mutate_feature(e, 5, b"nan")), "ok: one reject", accounted(1)),
    Case("CSV", "infinity in a feature", lambda e: e.score(mutate_feature(e, 5, b"-inf")), "ok: one reject", accounted(1)),
    Case("CSV", "a value beyond float32 (1e39)", lambda e: e.score(mutate_feature(e, 150, b"1e39")), "ok: one reject",
         accounted(1)),
    Case("CSV", "a byte that is not UTF-8", lambda e: e.score(mutate_feature(e, 7, b"12\xff3")), "ok: one reject",
         accounted(1)),
    Case("CSV", "an unclosed quote", lambda e: e.score(mutate_feature(e, 9, b'"12')), "ok: one reject", accounted(1)),
    Case("CSV", "a field of 200 KiB", lambda e: e.score(mutate_feature(e, 11, b"9" * 200_000)), "ok: one reject",
         accounted(1)),
    Case("CSV", "a line of binary garbage", lambda e: e.score(e.csv(lambda lines: lines[:3] + [b"\x00\x01\x02\xfe\n"] + lines[4:])),
         "ok: one reject", accounted(1)),
    Case("CSV", "a short row", lambda e: e.score(e.csv(lambda lines: lines[:3] + [lines[3][:10] + b"\n"] + lines[4:])),
         "ok: one reject", accounted(1)),
    Case("CSV", "--rejects on the same path as --out", lambda e: e.score(e.csv(), "--rejects", str(e.tmp / f"scores{e.n}.csv")),
         "the scores and the rejects must go to different files"),
    Case("CSV", "--out over the input", lambda e: ["score", str(e.fraud_model), "--input", (p := e.csv()), "--out", p],
         "the output files must differ from the input"),
    Case("CSV", "a formula in a passed-through column (=HYPERLINK)",
         lambda e: e.score(e.csv(lambda lines: lines[:4] + [b"=HYPERLINK(1)," + lines[4].split(b",", 1)[1]] + lines[5:])),
         "ok: written as '=HYPERLINK(1)", lambda e, out: formula_escaped(e)),
    # WAV files --------------------------------------------------------------------------------------------------
    Case("WAV", "0 bytes", api(read_wav_of(b"")), "expected a WAV file (RIFF/WAVE header)"),
    Case("WAV", "not audio (text)", api(read_wav_of(b"hello, I am not a sound")), "expected a WAV file (RIFF/WAVE header)"),
    Case("WAV", "a header without chunks", api(read_wav_of(b"RIFF\x04\x00\x00\x00WAVE")), "without a fmt and a data chunk"),
    Case("WAV", "a data size larger than the file", api(read_wav_of(wav(declared=10_000_000))), "the file is truncated"),
    Case("WAV", "sample rate 0", api(read_wav_of(wav(rate=0))), "WAV field 'sample rate': expected 1,000 to 384,000 Hz, got 0"),
    Case("WAV", "sample rate 1", api(read_wav_of(wav(rate=1))), "WAV field 'sample rate'"),
    Case("WAV", "0 channels", api(read_wav_of(wav(channels=0))), "WAV field 'channels': expected 1 to 64, got 0"),
    Case("WAV", "NaN samples (float)", api(read_wav_of(wav(tag=3, bits=32, samples=np.full(100, np.nan, "<f4").tobytes()))),
         "WAV samples: expected finite values"),
    Case("WAV", "float samples of 1e30", api(read_wav_of(wav(tag=3, bits=32, samples=np.full(100, 1e30, "<f4").tobytes()))),
         "expected finite values within +-1 (a little beyond, clipped, at most +-1000), got 1e+30 at sample 0"),
    Case("WAV", "/dev/zero as the audio source", lambda e: ["run", "commands", e.commands_model, "--source", "/dev/zero"],
         "/dev/zero: expected an audio file, got a character device"),
    Case("WAV", "a FIFO as the audio source", lambda e: ["run", "commands", e.commands_model, "--source", fifo(e)],
         "expected an audio file, got a FIFO (named pipe)"),
    Case("WAV", "a folder as the audio source", lambda e: ["run", "commands", e.commands_model, "--source", str(e.tmp)],
         "expected an audio file, got a directory"),
    Case("WAV", "an unknown encoding (A-law)", api(read_wav_of(wav(tag=6, bits=8, samples=b"\x00" * 100))),
         "expected PCM 8/16/24/32-bit or float WAV, got format 6"),
    Case("WAV", "8, 24, 32-bit and float, stereo", api(lambda e: [read_wav_of(wav(bits=b, tag=t, channels=2,
                                                                                 samples=b"\x00" * (b // 8) * 200))(e)
                                                                  for b, t in ((8, 1), (24, 1), (32, 1), (32, 3))]),
         "ok: read", lambda e, r: all_stereo(r)),
    # labels and datasets ----------------------------------------------------------------------------------------
    Case("dataset", "a YOLO label line of 4 fields", api(lambda e: yolo_labels(e, "1 0.5 0.5 0.2\n")),
         "line 1: expected 5 fields 'class cx cy w h'"),
    Case("dataset", "a YOLO class index beyond the names", api(lambda e: yolo_labels(e, "0 0.5 0.5 0.2 0.2\n12 0.5 0.5 0.2 0.2\n")),
         "line 2, field 'class': expected a class index from 0 to 9, got 12"),
    Case("dataset", "a YOLO box wider than the image", api(lambda e: yolo_labels(e, "3 0.5 0.5 1.5 0.2\n")),
         "field 'w': expected a normalised value in (0, 1]"),
    Case("dataset", "a COCO annotation of an image that is not listed",
         api(lambda e: coco(e, [{"image_id": 2, "category_id": 7, "bbox": [1, 1, 5, 5]}])),
         "field 'annotations[0].image_id': expected the id of an image in 'images', got 2"),
    Case("dataset", "a COCO box of 3 numbers", api(lambda e: coco(e, [{"image_id": 1, "category_id": 7, "bbox": [1, 1, 5]}])),
         "field 'annotations[0].bbox': expected 4 numbers [x, y, w, h], got [1, 1, 5]"),
    Case("dataset", "a COCO box outside its image",
         api(lambda e: coco(e, [{"image_id": 1, "category_id": 7, "bbox": [60, 1, 10, 5]}])),
         "expected a box inside the 64x48 image"),
    Case("dataset", "a class folder tree with one class", api(lambda e: class_folders(e, ["cats"])),
         "expected at least 2 class folders, got 1"),
    Case("dataset", "an empty class folder", api(lambda e: class_folders(e, ["cats", "dogs"], empty="dogs")),
         "an empty class folder"),
    # images and video sources -----------------------------------------------------------------------------------
    Case("image", "a non-video file as the source", lambda e: ["run", "detect", str(e.detect_model), "--source",
                                                               e.file(b"not a video", ".mp4")],
         "not a video OpenCV can read"),
    Case("image", "a camera that is absent", lambda e: ["run", "detect", str(e.detect_model), "--source", "7"],
         "camera 7 cannot be opened (no such device, or it is busy)", code=1),
    Case("image", "a folder with a damaged image among good ones",
         lambda e: ["run", "detect", str(e.detect_model), "--source", damaged_folder(e), "--json"],
         "ok: skipped and counted", lambda e, out: None, stderr="skipped 1 unreadable image(s): "),
    Case("image", "Detector.detect of a list", api(lambda e: detector(e).detect([[1, 2, 3]])),
         "image: expected a numpy array of (H, W, 3) uint8 pixels, got list"),
    Case("image", "Detector.detect of an empty image", api(lambda e: detector(e).detect(np.zeros((0, 5, 3), np.uint8))),
         "H and W above 0, got shape (0, 5, 3)"),
    Case("image", "Detector.detect of float pixels", api(lambda e: detector(e).detect(np.zeros((8, 8, 3), np.float32))),
         "expected (H, W, 3) uint8 pixels"),
    Case("image", "Detector.detect of a 5000 x 2 image", api(lambda e: detector(e).detect(np.zeros((5000, 2, 3), np.uint8))),
         "ok: detected (the letterbox keeps a pixel's width)", saw_a_list),
    Case("image", "a video 1 pixel wide", lambda e: ["run", "detect", str(e.detect_model), "--json", "--source", thin_video(e)],
         "ok: every frame detected", frames_seen(3)),
    Case("image", "a FIFO as the video source", lambda e: ["run", "detect", str(e.detect_model), "--source", fifo(e)],
         "expected a video file, got a FIFO (named pipe)"),
    Case("image", "greyscale, RGBA, 16-bit and 1x1 images in a folder",
         lambda e: ["run", "detect", str(e.detect_model), "--json", "--source", image_files(e, {
             "grey.png": np.full((40, 50), 90, np.uint8), "rgba.png": np.full((40, 50, 4), 200, np.uint8),
             "deep.png": np.full((40, 50, 3), 40_000, np.uint16), "dot.png": np.zeros((1, 1, 3), np.uint8)})],
         "ok: each read as 8-bit BGR and detected", frames_seen(4)),
    Case("image", "a PNG declaring 60,000 x 60,000 pixels", api(read_image_of(lambda e: huge(e, ".png"))),
         "the image declares 60000 x 60000 pixels; expected at most 67,108,864 pixels (67 MP), refused before decoding"),
    Case("image", "a JPEG declaring 60,000 x 60,000 pixels", api(read_image_of(lambda e: huge(e, ".jpg"))),
         "refused before decoding"),
    # URL sources and devices ------------------------------------------------------------------------------------
    Case("URL", "a URL where nothing listens", lambda e: ["run", "detect", str(e.detect_model), "--reconnect", "2",
                                                          "--source", f"http://127.0.0.1:{free_port()}/camera.mjpg"],
         "cannot be opened: tried 3 times over 1.5 s, 10 s each at most (nothing answers there, or it is not a video stream)",
         code=1),
    Case("URL", "an RTSP port that accepts and never answers", lambda e: ["run", "detect", str(e.detect_model), "--reconnect", "0",
                                                                          "--timeout-s", "1", "--source", e.silent_listener("rtsp")],
         "cannot be opened: tried 1 times over 0.0 s, 1 s each at most", code=1),
    Case("URL", "a video file served over HTTP, to its end", lambda e: ["run", "detect", str(e.detect_model), "--json", "--source",
                                                                      e.http_file(thin_video(e))],
         "ok: its 3 frames once, then the end said", last_frame(2), code=0,
         stderr="(the URL served a video file, and it ended: --loop plays it again)"),
    Case("URL", "a URL that opens but gives no frames", lambda e: ["run", "detect", str(e.detect_model), "--reconnect", "1",
                                                                   "--source", e.stream(garbage=True)],
         "opened but gave no frames (reopened 1 time(s))", code=1),
    Case("URL", "a microphone that is absent (mic:99)", lambda e: ["run", "commands", e.commands_model, "--source", "mic:99"],
         "audio input 99 cannot be opened", code=1),
    # the commands (Speech Commands) layout ------------------------------------------------------------------------
    Case("dataset", "commands: label folders in capitals (Yes, No)",
         api(lambda e: commands_layout(e, {"Yes/a_nohash_0.wav": wav(), "No/b_nohash_0.wav": wav()})),
         "expected folders named like the labels (yes, no, up, down"),
    Case("dataset", "commands: a damaged WAV among the clips",
         api(lambda e: commands_layout(e, {"yes/a_nohash_0.wav": wav(), "yes/b_nohash_0.wav": b"RIFF"})),
         "b_nohash_0.wav: expected a WAV file (RIFF/WAVE header)"),
    Case("dataset", "commands: WAV files but no label folders", api(lambda e: commands_layout(e, {"a.wav": wav()})),
         "expected label folders of .wav files, found none"),
    # options ----------------------------------------------------------------------------------------------------
    Case("options", "a device whose provider this onnxruntime lacks", lambda e: e.score(e.csv(), "--device", "nvidia-gpu"),
         "needs CUDAExecutionProvider, but this onnxruntime offers", code=1),
    Case("options", "batch --batch-rows -5", lambda e: ["batch", str(e.fraud_model), "--input", e.csv(), "--output",
                                                        str(e.tmp / "batch-out"), "--batch-rows", "-5"], "batch_rows (--batch-rows)"),
    Case("options", "detect --reconnect -1", lambda e: ["run", "detect", str(e.detect_model), "--source", "0",
                                                        "--reconnect", "-1"], "reconnect (--reconnect)"),
    Case("options", "--threads -1", lambda e: e.score(e.csv(), "--threads", "-1"), "threads (--threads): expected a whole number"),
    Case("options", "--threads 100000", lambda e: e.score(e.csv(), "--threads", "100000"), "from 1 to 256, got 100000"),
    Case("options", "--threshold nan", lambda e: e.score(e.csv(), "--threshold", "nan"),
         "threshold (--threshold): expected a probability from 0 to 1, got nan"),
    Case("options", "--threshold -5", lambda e: e.score(e.csv(), "--threshold", "-5"), "got -5.0"),
    Case("options", "an unknown device profile", lambda e: e.score(e.csv(), "--device", "toaster"), "toaster"),
    Case("options", "`bench-serve --clients 0`", lambda e: ["bench-serve", "fraud-sim", "--clients", "0"],
         "clients (--clients): expected client counts >= 1, comma-separated, got (0,)"),
    Case("options", "detect --score-threshold 2", lambda e: ["run", "detect", str(e.detect_model), "--source", "0",
                                                             "--score-threshold", "2"], "score_threshold (--score-threshold)"),
    Case("options", "detect --score-threshold nan", lambda e: ["run", "detect", str(e.detect_model), "--source", "0",
                                                               "--score-threshold", "nan"], "score_threshold (--score-threshold)"),
    Case("options", "detect --max-detections -1", lambda e: ["run", "detect", str(e.detect_model), "--source", "0",
                                                             "--max-detections", "-1"], "max_detections (--max-detections)"),
    Case("options", "commands --hop-ms 0.001", lambda e: ["run", "commands", e.commands_model, "--source", e.file(wav(), ".wav"),
                                                           "--hop-ms", "0.001"], "hop_ms (--hop-ms): expected a number of ms from 1"),
    Case("options", "commands --hop-ms 1e9", lambda e: ["run", "commands", e.commands_model, "--source", e.file(wav(), ".wav"),
                                                         "--hop-ms", "1e9"], "got 1000000000.0"),
    Case("options", "commands --hop-ms longer than the model's window",
         lambda e: ["run", "commands", e.commands_model, "--source", e.file(wav(), ".wav"), "--hop-ms", "5000"],
         "hop_ms (--hop-ms): expected at most the model's window (1000 ms), got 5000"),
    Case("options", "a device profile with threads = 100000", lambda e: e.score(e.csv(), "--device", profile(e, "", threads="100000")),
         "field 'threads': expected a whole number from 0 (all cores) to 256, got 100000"),
    Case("options", "a device profile with threads = \"many\"", lambda e: e.score(e.csv(), "--device", profile(e, "", threads='"many"')),
         "field 'threads': expected a whole number from 0 (all cores) to 256, got 'many'"),
    Case("options", "a device profile whose providers are a string",
         lambda e: e.score(e.csv(), "--device", profile(e, "", providers='"CPUExecutionProvider"')),
         "field 'providers': expected a list of strings, got 'CPUExecutionProvider'"),
    Case("options", "a device profile with io_binding = \"yes\"",
         lambda e: e.score(e.csv(), "--device", profile(e, "", io_binding='"yes"')),
         "field 'io_binding': expected true or false, got 'yes'"),
    Case("options", "a device profile in Latin-1", lambda e: e.score(e.csv(), "--device", profile(e, "description = 'caf\xe9'\n".encode("latin-1"))),
         "expected UTF-8 text (TOML), got byte 0xe9 at offset 18"),
    Case("options", "a folder named like a device profile (x.toml)", lambda e: e.score(e.csv(), "--device", folder(e, "x.toml")),
         "expected a device profile file, got a directory"),
    Case("options", "detect --save into a folder that is not there",
         lambda e: ["run", "detect", str(e.detect_model), "--source", str(e.detect_data / "images" / "test"), "--save",
                    str(e.tmp / "nowhere" / "out.mp4")], "cannot write the video there: the folder"),
]


@pytest.fixture(scope="module")
def env(fraud_model, fraud_csv, detect_run, detect_data, tmp_path_factory, request):
    env = Env(tmp_path_factory.mktemp("bad"), fraud_model, fraud_csv, detect_run, detect_data, request)
    yield env
    for server in env.servers:
        server.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.what}" for c in CASES])
def test_bad_input(case, env, capsys):
    capsys.readouterr()
    if getattr(case.call, "api", False):
        if case.expect.startswith("ok"):
            case.check(env, case.call(env))
        else:
            with pytest.raises(EdgewardError) as raised:
                case.call(env)
            assert case.expect in str(raised.value) and "\n" not in str(raised.value)
        return
    code = main(case.call(env))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if case.expect.startswith("ok"):
        assert code == 0, err
        if case.check:
            case.check(env, out)
        assert case.stderr in err, err
    else:
        assert code == case.code, (code, out, err)
        lines = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1 and case.expect in lines[0], err


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 60


def markdown() -> str:
    rows = ["| area | input | outcome |", "|---|---|---|"]
    rows += [f"| {c.area} | {c.what} | {c.expect.replace('|', '/')} |" for c in CASES]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())


def test_the_document_is_generated_from_this_table():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    assert doc.rstrip().endswith(markdown()), "regenerate docs/reliability.md: PYTHONPATH=tests .venv/bin/python tests/system/test_bad_inputs.py"
