"""Darknet YOLO models (the founding article's row 9: `yolov3.cfg` + `yolov3.weights`), which OpenCV 5 no longer
reads: `Detector.from_darknet` converts the cfg and weights to ONNX in memory and decodes the yolo layers at every
scale. The cfg and the weights are written here, with weights chosen so that what the network must find is known:
a white square lights three yolo layers (stride 32, 16 and an upsampled 8) at known cells and anchors. Also: batch
norm folded as Darknet computes it, the weights file's two header versions, and one-line errors."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from edgeward.core.errors import DataError, InputError, ModelFileError
from edgeward.runtime.tasks.darknet import BN_EPSILON, darknet_to_onnx
from edgeward.runtime.tasks.detect import Detector

CFG = """[net]
# a three-scale YOLO in miniature: 64x64 input
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=4
size=1
stride=1
pad=1
activation=leaky

[convolutional]
filters=4
size=3
stride=1
pad=1
activation=linear

[shortcut]
from=-2
activation=linear

[maxpool]
size=32
stride=32

[convolutional]
filters=7
size=1
stride=1
activation=linear

[yolo]
mask=0
anchors=20,20, 10,10, 6,6
classes=2
num=3

[route]
layers=2

[maxpool]
size=16
stride=16

[convolutional]
filters=7
size=1
stride=1
activation=linear

[yolo]
mask=1
anchors=20,20, 10,10, 6,6
classes=2

[route]
layers=3,3

[upsample]
stride=4

[convolutional]
filters=7
size=1
stride=1
activation=linear

[yolo]
mask=2
anchors=20,20, 10,10, 6,6
classes=2
"""


def _head(c_in: int, cls: int) -> list[np.ndarray]:
    """A 1x1 conv into one anchor's tx, ty, tw, th, objectness, two classes: offsets and sizes 0 (the cell's
    centre, the anchor's size), objectness 20 x brightness - 15 (from input channel 0), class ``cls`` sure."""
    w = np.zeros((7, c_in), np.float32)
    w[4, 0] = 20.0
    bias = np.array([0, 0, 0, 0, -15, 10 if cls == 0 else -10, 10 if cls == 1 else -10], np.float32)
    return [bias, w.ravel()]


def _weights(path, version=(0, 2, 0)) -> None:
    # layer 0, batch norm: biases, scales, means, variances, then weights; channel 0 = the mean of R, G, B
    bn = [np.zeros(4), np.ones(4), np.zeros(4), np.full(4, 1.0 - BN_EPSILON)]
    w0 = np.zeros((4, 3))
    w0[0] = 1 / 3
    w1 = [np.zeros(4), np.zeros(4 * 4 * 9)]  # layer 1: zeros, so the shortcut gives layer 0 back
    values = [*bn, w0.ravel(), *w1, *_head(4, 1), *_head(4, 0), *_head(8, 1)]
    header = np.array(version, np.int32).tobytes() + (np.int64(0).tobytes() if version[0] * 10 + version[1] >= 2
                                                      else np.int32(0).tobytes())
    path.write_bytes(header + np.concatenate([np.asarray(v, np.float32).ravel() for v in values]).tobytes())


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "tiny.cfg").write_text(CFG)
    _weights(tmp_path / "tiny.weights")
    (tmp_path / "tiny.names").write_text("a\nb\n")
    return tmp_path


def _expected(scale: float = 2.0) -> set:
    """The boxes the weights make for a white square at 4..14 (input pixels) in a 64x64 input, in source pixels."""
    # stride 32: darknet's pooling windows start 15 pixels before the image (-15..16, 17..48): window (0, 0) alone
    # holds the square; anchor 20 at the cell's centre
    found = {("b", (6, 6, 26, 26))}
    for gy in range(2):  # stride 16: windows -7..8, 9..24, ...: cells 0 and 1 see it
        for gx in range(2):
            cx, cy = 16 * gx + 8, 16 * gy + 8
            found.add(("a", (cx - 5, cy - 5, cx + 5, cy + 5)))
    for gy in range(4):  # the stride-32 map upsampled 4x: an 8x8 grid, its top-left 4x4 cells bright; anchor 6
        for gx in range(4):
            cx, cy = 8 * gx + 4, 8 * gy + 4
            found.add(("b", (cx - 3, cy - 3, cx + 3, cy + 3)))
    return {(label, tuple(round(v * scale) for v in box)) for label, box in found}


def test_a_darknet_yolo_runs_with_three_scale_decoding(tiny):
    image = np.zeros((128, 128, 3), np.uint8)
    image[8:28, 8:28] = 255  # 4..14 in the 64x64 input
    with Detector.from_darknet(tiny / "tiny.cfg", tiny / "tiny.weights", tiny / "tiny.names") as det:
        assert det.labels == ("a", "b") and det.size == 64 and len(det.model.output_names) == 3
        found = det.detect(image)
        assert all(d.score > 0.99 for d in found)
        assert {(d.label, tuple(round(v) for v in d.box)) for d in found} == _expected()
        assert det.detect(np.zeros((128, 128, 3), np.uint8)) == []  # dark: nothing


def test_batch_norm_is_folded_as_darknet_computes_it_and_both_header_versions_read(tmp_path):
    cfg = "[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\npad=1\n" \
          "activation=leaky\n\n[yolo]\nmask=0\nanchors=4,4\nclasses=1\n"
    (tmp_path / "bn.cfg").write_text(cfg)
    rng = np.random.default_rng(0)
    bias, scale, mean = rng.normal(size=6), rng.uniform(0.5, 2, 6), rng.normal(size=6)
    var, w = rng.uniform(0.5, 2, 6), rng.normal(size=(6, 3, 3, 3))
    x = rng.uniform(0, 1, (1, 3, 8, 8)).astype(np.float32)
    padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    conv = np.array([[[(padded[:, i:i + 3, j:j + 3] * w[f]).sum() for j in range(8)] for i in range(8)] for f in range(6)])
    bn = (conv - mean[:, None, None]) / np.sqrt(var[:, None, None] + BN_EPSILON) * scale[:, None, None] + bias[:, None, None]
    want = np.where(bn > 0, bn, 0.1 * bn)
    for version in ((0, 2, 0), (0, 1, 0)):  # 64-bit and 32-bit "images seen"
        seen = np.int64(0).tobytes() if version[1] >= 2 else np.int32(0).tobytes()
        floats = np.concatenate([bias, scale, mean, var, w.ravel()]).astype(np.float32)
        (tmp_path / "bn.weights").write_bytes(np.array(version, np.int32).tobytes() + seen + floats.tobytes())
        data, size, heads = darknet_to_onnx(tmp_path / "bn.cfg", tmp_path / "bn.weights")
        assert size == 8 and heads[0].anchors == ((4.0, 4.0),) and heads[0].classes == 1
        got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
        np.testing.assert_allclose(got[0], want, atol=1e-4)


def test_what_the_converter_does_not_take_is_a_one_line_error_naming_the_place(tiny):
    cfg, weights, names = tiny / "tiny.cfg", tiny / "tiny.weights", tiny / "tiny.names"
    cases = {
        CFG.replace("[upsample]", "[reorg]"): f"{cfg} line 63: expected a layer edgeward converts (convolutional, "
                                             "shortcut, route, upsample, maxpool, yolo), got '[reorg]'",
        CFG.replace("activation=leaky", "activation=swish"): f"{cfg} line 13, field 'activation': expected one of leaky, "
                                                             "linear, relu, logistic, mish, got 'swish'",
        CFG.replace("from=-2", "from=4"): f"{cfg} line 23, field 'from': expected an earlier layer (0 to 1), got 4",
        CFG.replace("classes=2\nnum=3", "classes=3\nnum=3"): f"{cfg} line 39, field 'classes': expected the layer before "
                                                            "to give 1 x (5 + classes) channels, got '7 channels for 3 classes'",
        CFG.replace("width=64", "width=96"): f"{cfg} line 3, field 'width, height, channels': expected a square RGB input",
        "width=64\n": f"{cfg} line 1: expected a [section] or a key=value line, got 'width=64'",
    }
    for text, message in cases.items():
        cfg.write_text(text)
        with pytest.raises(DataError) as err:
            Detector.from_darknet(cfg, weights, names)
        assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)
    cfg.write_text(CFG)
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(DataError, match=r"tiny.weights, field 'layer 12 \(line 66\) weights': expected 309 weights for "
                                        r"the cfg's layers up to here, got '307 in the file'"):
        Detector.from_darknet(cfg, weights, names)
    with pytest.raises(ModelFileError, match=r"nope.weights: Darknet weights file not found"):
        Detector.from_darknet(cfg, tiny / "nope.weights", names)
    _weights(weights)
    with pytest.raises(InputError, match=r"tiny.names: expected 2 class names \(the cfg's classes\), got 3"):
        names.write_text("a\nb\nc\n")
        Detector.from_darknet(cfg, weights, names)


def test_the_article_flow_from_the_command_line_on_a_video(tiny, capsys):
    """`edgeward run detect --model yolov3.cfg --weights yolov3.weights --labels coco.names --source video.mp4`: the
    article's files on a real OpenCV capture of an MP4 (no camera here), every frame's boxes as JSON lines."""
    import json

    from edgeward.app.cli import main
    from edgeward.runtime.io.video_loop import VideoSink

    frame = np.zeros((128, 128, 3), np.uint8)
    frame[8:28, 8:28] = 255
    with VideoSink(tiny / "square.mp4", fps=10) as sink:
        for _ in range(5):
            sink.write(frame)
    args = ["run", "detect", "--model", str(tiny / "tiny.cfg"), "--weights", str(tiny / "tiny.weights"),
            "--source", str(tiny / "square.mp4"), "--json"]
    assert main(args + ["--labels", str(tiny / "tiny.names")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 5
    for line in lines:
        assert {(d["label"], tuple(round(v) for v in d["box"])) for d in line["detections"]} == _expected()
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == ("error: --weights: a Darknet model needs its class names too: --labels "
                                               "FILE (coco.names), got none")
