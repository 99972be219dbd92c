"""The Detector on a YOLOv8-layout ONNX model made here, and the OpenCV frame sources (video files and
image folders are real; there is no camera on this machine, so the camera is only checked to fail
clearly and URL reconnection runs against a fake capture)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hardware import FlakyOpener

from edgeward.core.errors import DeviceError, InputError
from edgeward.runtime.tasks.detect import Detector, DetectorOptions
from edgeward.runtime.io.video import LatestFrames, StreamOptions

cv2 = pytest.importorskip("cv2", reason="opencv (in the base install) is not installed")
onnx = pytest.importorskip("onnx")


def _yolov8_model(tmp_path, n_classes=3, anchors=20):
    """An ONNX model with YOLOv8's output layout (1, 4 + C, N) whose predictions are fixed."""
    from onnx import TensorProto, helper, numpy_helper

    pred = np.zeros((1, 4 + n_classes, anchors), dtype=np.float32)
    pred[0, :4, :] = [[160], [160], [10], [10]]
    pred[0, 4:, :] = 0.01
    pred[0, :, 0] = [100, 120, 40, 60, 0.0, 0.9, 0.0]  # "one"
    pred[0, :, 1] = [102, 121, 40, 60, 0.0, 0.7, 0.0]  # a duplicate of it
    pred[0, :, 2] = [200, 200, 50, 50, 0.6, 0.0, 0.0]  # "zero"
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
             helper.make_node("Add", ["pred", "nothing"], ["output0"])]
    graph = helper.make_graph(nodes, "yolo", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 320, 320])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(pred.shape))],
                              initializer=[numpy_helper.from_array(pred, "pred"), numpy_helper.from_array(np.float32(0), "zero")])
    path = tmp_path / "yolov8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    (tmp_path / "labels.txt").write_text("zero\none\ntwo\n")
    return path


def test_a_yolov8_layout_model_with_a_labels_file(tmp_path):
    path = _yolov8_model(tmp_path)
    image = np.zeros((480, 640, 3), dtype=np.uint8)  # letterboxed to 320: scale 0.5, 40 px bands above and below
    with Detector.from_yolo(path, tmp_path / "labels.txt") as det:
        found = det.detect(image)
        assert [(d.label, round(d.score, 2)) for d in found] == [("one", 0.9), ("zero", 0.6)]  # the duplicate is gone
        np.testing.assert_allclose(found[0].box, [160, 100, 240, 220], atol=1e-4)  # back in source pixels
        np.testing.assert_allclose(found[1].box, [350, 270, 450, 370], atol=1e-4)
        assert set(det.timings) == {"preprocess_ms", "inference_ms", "postprocess_ms"}
    with Detector.from_yolo(path, ["zero", "one", "two"], options=DetectorOptions(classes=("zero",))) as det:
        assert [d.label for d in det.detect(image)] == ["zero"]
    with Detector.from_yolo(path, ["zero", "one", "two"], options=DetectorOptions(score_threshold=0.95)) as det:
        assert det.detect(image) == []
    with pytest.raises(InputError, match=r"class allowlist: \['cat'\] not among the model's labels"):
        Detector.from_yolo(path, tmp_path / "labels.txt", options=DetectorOptions(classes=("cat",)))
    with pytest.raises(InputError, match="nope.txt: labels file not found"):
        Detector.from_yolo(path, tmp_path / "nope.txt")
    with Detector.from_yolo(path, tmp_path / "labels.txt") as det, pytest.raises(InputError, match=r"expected \(H, W, 3\) uint8"):
        det.detect(np.zeros((10, 10), np.uint8))


def _video(path, frames=40, size=(160, 120)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 0, np.uint8)
        frame[:, :, 1] = i * 4  # the frame number, readable after compression
        writer.write(frame)
    writer.release()
    return path


def test_a_video_file_to_its_end_in_order(tmp_path):
    with LatestFrames(str(_video(tmp_path / "v.avi"))) as frames:
        got = [(n, int(round(f[:, :, 1].mean() / 4))) for n, f in frames.frames()]
    assert [n for n, _ in got] == list(range(40)) and [v for _, v in got] == list(range(40))
    assert frames.dropped == 0


def test_a_slow_consumer_gets_the_newest_frame_and_drops_are_counted(tmp_path):
    with LatestFrames(str(_video(tmp_path / "v.avi", frames=60)), realtime=True) as frames:
        seen = []
        for n, _ in frames.frames():
            seen.append(n)
            time.sleep(0.02)  # inference slower than the source
    assert seen == sorted(seen) and len(seen) < 60 and frames.dropped == 60 - len(seen) and frames.read_count == 60


def test_image_folder_and_bad_sources(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((20, 30, 3), i * 40, np.uint8))
    with LatestFrames(str(tmp_path)) as frames:
        assert [int(f.mean()) for _, f in frames.frames()] == [0, 40, 80]
    with pytest.raises(DeviceError, match="camera 99 cannot be opened"):
        LatestFrames(99)
    with pytest.raises(InputError, match="missing.mp4: video source not found"):
        LatestFrames(str(tmp_path / "missing.mp4"))


def test_a_dropped_url_stream_reconnects_with_backoff():
    stream = FlakyOpener(frames=3, works=2)
    started = time.perf_counter()
    with LatestFrames("rtsp://camera.invalid/stream", realtime=False, opener=stream,
                      options=StreamOptions(reconnect=2, backoff_s=0.05)) as frames:
        got = list(frames.frames())
    # 3 frames, drop, reopened (backoff 0.05 s), 3 frames, drop, two failed reopens (0.05 s, then 0.1 s), give up
    assert frames.reconnects == 1 and stream.opened == 4 and len(got) == 6
    assert time.perf_counter() - started >= 0.2


def test_cli_run_detect_prints_json_per_frame_and_saves_the_annotated_video(tmp_path, capsys):
    from edgeward.app.cli import main

    model, video = _yolov8_model(tmp_path), _video(tmp_path / "v.avi", frames=12)
    out = tmp_path / "annotated.mp4"
    assert main(["run", "detect", str(model), "--labels", str(tmp_path / "labels.txt"), "--source", str(video),
                 "--json", "--save", str(out)]) == 0
    captured = capsys.readouterr()
    lines = [__import__("json").loads(line) for line in captured.out.splitlines()]
    assert [line["frame"] for line in lines] == list(range(12))
    assert [d["label"] for d in lines[0]["detections"]] == ["one", "zero"] and lines[0]["inference_ms"] > 0
    assert "frames: 12, dropped: 0" in captured.err
    check = cv2.VideoCapture(str(out))
    assert int(check.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    check.release()
    # text, one line a frame; the detector's options are flags of their own
    assert main(["run", "detect", str(model), "--labels", str(tmp_path / "labels.txt"), "--source", str(video),
                 "--classes", "one", "--max-detections", "1"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 12 and text[0].startswith("frame      0") and " FPS  one 0." in text[0] and "zero" not in text[0]
    assert main(["run", "detect", str(model), "--labels", str(tmp_path / "labels.txt"), "--source", "99"]) == 1
    assert "camera 99 cannot be opened" in capsys.readouterr().err


def test_a_reader_that_fails_ends_the_frames_with_its_error_instead_of_hanging():
    """The capture thread's error reaches the consumer (before, a dead reader left it waiting for ever)."""

    class Failing:
        def __init__(self):
            self.reads = 0

        def isOpened(self):
            return True

        def read(self):
            self.reads += 1
            if self.reads > 2:
                raise RuntimeError("the camera went away")
            return True, np.zeros((4, 4, 3), np.uint8)

        def release(self):
            pass

    with LatestFrames("rtsp://camera", realtime=False, opener=lambda _: Failing()) as frames:
        got = []
        with pytest.raises(RuntimeError, match="the camera went away"):
            for number, _ in frames.frames():
                got.append(number)
    assert got == [0, 1]


def test_a_folder_of_only_unreadable_images_is_an_error_not_an_empty_run(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"not a picture")
    with LatestFrames(str(tmp_path)) as frames, pytest.raises(InputError, match="none of its 2 image"):
        list(frames.frames())


def test_detect_gives_what_the_training_path_and_the_decoder_give(detect_data):
    """The released detector's detections through ``Detector.detect`` (one-pass preprocessing into a reused buffer)
    equal those of training's preprocessing, the bare model call and the decoder, frame after frame."""
    from edgeward.runtime.tasks.detect_post import decode_centernet, letterbox_image, to_input
    from edgeward.runtime.io.video import read_image

    images = sorted((detect_data / "images" / "test").glob("*.jpg"))[:4]
    with Detector.from_catalogue("digits", options=DetectorOptions(score_threshold=0.05)) as det:
        for path in images + images[:1]:  # the first again: its buffer was used by other frames since
            frame = read_image(path)
            found = det.detect(frame)
            canvas, lb = letterbox_image(frame, det.size)
            x = to_input(canvas).transpose(2, 0, 1)[None] if det.nchw else to_input(canvas)[None]
            head = det.model.run({det.model.input_names[0]: np.ascontiguousarray(x)})[det.model.output_names[0]]
            o = det.options
            boxes, scores, classes = decode_centernet(head, det.size, o.score_threshold, o.iou_threshold, o.max_detections)
            assert found and [d.score for d in found] == scores.tolist() and [d.class_id for d in found] == classes.tolist()
            assert np.abs(np.array([d.box for d in found]) - lb.to_source(boxes)).max() < 1e-4
