"""Darknet models (``yolov3.cfg`` + ``yolov3.weights``, as the founding article loads them with OpenCV) converted
to ONNX in memory, so that ONNX Runtime runs them like any other file: OpenCV 5 no longer reads Darknet.

The cfg's layers become ONNX nodes: ``convolutional`` (batch norm folded into the weights; leaky, linear, relu,
logistic and mish activations), ``shortcut``, ``route``, ``upsample``, ``maxpool``; each ``yolo`` layer becomes a
graph output, its raw (1, A * (5 + C), H, W) map, which ``decode_darknet`` turns into boxes: YOLOv3's three-scale
decoding (sigmoid offsets within the cell, anchor sizes scaled by exp, objectness times class probability).
Anything else in a cfg is a one-line error naming the file, line and section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeward.core.errors import DataError, ModelFileError, require
from edgeward.runtime.tasks.detect_post import nms

BN_EPSILON = 1e-5  # darknet's
ACTIVATIONS = ("leaky", "linear", "relu", "logistic", "mish")


@dataclass
class Section:
    kind: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # each option's line

    def get(self, name: str, default, cast=int):
        return cast(self.options[name]) if name in self.options else default

    def at(self, name: str) -> int:
        """The line of option ``name`` (the section's own line if it is not given)."""
        return self.lines.get(name, self.line)


@dataclass(frozen=True)
class YoloHead:
    """One ``yolo`` layer: its anchors (input pixels) and its grid-offset scale (``scale_x_y``, 1 in YOLOv3)."""

    anchors: tuple[tuple[float, float], ...]
    classes: int
    scale_xy: float = 1.0


def parse_cfg(path: str | os.PathLike) -> list[Section]:
    """The cfg's sections in order, each with its options (``key=value`` lines; ``#`` and ``;`` comments)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: Darknet cfg file not found")
    sections: list[Section] = []
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = raw.split("#")[0].split(";")[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(Section(line[1:-1].strip().lower(), number))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
            sections[-1].lines[key.strip()] = number
        else:
            raise DataError(path, number, None, "a [section] or a key=value line", raw.strip())
    if not sections or sections[0].kind not in ("net", "network"):
        raise DataError(path, sections[0].line if sections else 1, None, "the [net] section first",
                        f"[{sections[0].kind}]" if sections else "nothing")
    return sections


def darknet_to_onnx(cfg: str | os.PathLike, weights: str | os.PathLike) -> tuple[bytes, int, list[YoloHead]]:
    """The network as ONNX bytes (input ``image``, (1, 3, S, S) RGB in 0-1; one output per yolo layer), its input
    side S and its heads."""
    onnx = require("onnx", "darknet")
    helper, TensorProto = onnx.helper, onnx.TensorProto
    sections = parse_cfg(cfg)
    net = sections[0]
    width, height, channels = net.get("width", 416), net.get("height", 416), net.get("channels", 3)
    if width != height or channels != 3:
        raise DataError(cfg, net.at("width"), "width, height, channels", "a square RGB input (width = height, channels=3)",
                        f"{width}x{height}x{channels}")
    values = _weights(weights)
    used = 0
    nodes, inits = [], []
    outputs: list[str] = []  # each layer's output tensor
    widths: list[int] = []  # each layer's channels
    heads: list[YoloHead] = []
    head_outputs: list[str] = []
    current, c_in = "image", 3

    def take(count: int, what: str) -> np.ndarray:
        nonlocal used
        if used + count > len(values):
            raise DataError(weights, None, what, f"{used + count:,} weights for the cfg's layers up to here",
                            f"{len(values):,} in the file")
        out = values[used: used + count]
        used += count
        return out

    for i, s in enumerate(sections[1:]):
        name = f"l{i}_{s.kind}"
        if s.kind == "convolutional":
            filters, size, stride = s.get("filters", 1), s.get("size", 1), s.get("stride", 1)
            pad = size // 2 if s.get("pad", 0) else s.get("padding", 0)
            activation = s.get("activation", "logistic", str)
            if s.get("groups", 1) != 1 or s.get("dilation", 1) != 1:
                raise DataError(cfg, s.at("groups" if "groups" in s.options else "dilation"), "groups, dilation",
                                "1 (plain convolutions)",
                                f"{s.get('groups', 1)}, {s.get('dilation', 1)}")
            if activation not in ACTIVATIONS:
                raise DataError(cfg, s.at("activation"), "activation", f"one of {', '.join(ACTIVATIONS)}", activation)
            where = f"layer {i} (line {s.line})"
            if s.get("batch_normalize", 0):
                bias, scale, mean, var = (take(filters, f"{where} batch norm") for _ in range(4))
                w = take(filters * c_in * size * size, f"{where} weights").reshape(filters, c_in, size, size)
                k = scale / np.sqrt(var + BN_EPSILON)
                w, bias = w * k[:, None, None, None], bias - mean * k
            else:
                bias = take(filters, f"{where} biases")
                w = take(filters * c_in * size * size, f"{where} weights").reshape(filters, c_in, size, size)
            inits += [helper.make_tensor(f"{name}_w", TensorProto.FLOAT, w.shape, w.astype(np.float32).ravel()),
                      helper.make_tensor(f"{name}_b", TensorProto.FLOAT, bias.shape, bias.astype(np.float32))]
            conv = f"{name}_conv" if activation != "linear" else name
            nodes.append(helper.make_node("Conv", [current, f"{name}_w", f"{name}_b"], [conv], kernel_shape=[size, size],
                                          strides=[stride, stride], pads=[pad] * 4))
            nodes += _activation(helper, activation, conv, name)
            current, c_in = name, filters
        elif s.kind == "shortcut":
            other = _index(s.get("from", 0), i, cfg, s)
            if s.get("activation", "linear", str) != "linear":
                raise DataError(cfg, s.at("activation"), "activation", "linear (a shortcut's activation)",
                                s.options["activation"])
            nodes.append(helper.make_node("Add", [current, outputs[other]], [name]))
            current = name
        elif s.kind == "route":
            if s.get("groups", 1) != 1:
                raise DataError(cfg, s.at("groups"), "groups", "1 (grouped routes are YOLOv4-tiny's; not supported)",
                                s.options["groups"])
            layers = [_index(int(v), i, cfg, s) for v in s.options.get("layers", "").split(",") if v.strip()]
            if not layers:
                raise DataError(cfg, s.at("layers"), "layers", "one or more layer indices", s.options.get("layers", ""))
            nodes.append(helper.make_node("Concat", [outputs[j] for j in layers], [name], axis=1) if len(layers) > 1
                         else helper.make_node("Identity", [outputs[layers[0]]], [name]))
            current, c_in = name, sum(widths[j] for j in layers)
        elif s.kind == "upsample":
            stride = float(s.get("stride", 2))
            inits.append(helper.make_tensor(f"{name}_scales", TensorProto.FLOAT, [4], [1.0, 1.0, stride, stride]))
            nodes.append(helper.make_node("Resize", [current, "", f"{name}_scales"], [name], mode="nearest"))
            current = name
        elif s.kind == "maxpool":
            size, stride = s.get("size", 2), s.get("stride", 2)
            pad = s.get("padding", size - 1)
            nodes.append(helper.make_node("MaxPool", [current], [name], kernel_shape=[size, size], strides=[stride, stride],
                                          pads=[pad // 2, pad // 2, pad - pad // 2, pad - pad // 2]))
            current = name
        elif s.kind == "yolo":
            heads.append(_head(s, cfg, c_in))
            nodes.append(helper.make_node("Identity", [current], [name]))
            head_outputs.append(name)
            current = name
        else:
            raise DataError(cfg, s.line, None, "a layer edgeward converts (convolutional, shortcut, route, upsample, "
                            "maxpool, yolo)", f"[{s.kind}]")
        outputs.append(current)
        widths.append(c_in)
    if used != len(values):
        raise DataError(weights, None, None, f"{used:,} weights, as the cfg's layers take", f"{len(values):,}")
    if not heads:
        raise DataError(cfg, None, None, "at least one [yolo] layer", "none")
    graph = helper.make_graph(
        nodes, "darknet", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, width, width])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in head_outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeward-darknet")
    model.ir_version = 8
    return model.SerializeToString(), width, heads


def _activation(helper, activation: str, x: str, out: str) -> list:
    if activation == "linear":
        return []
    if activation == "leaky":
        return [helper.make_node("LeakyRelu", [x], [out], alpha=0.1)]
    if activation == "relu":
        return [helper.make_node("Relu", [x], [out])]
    if activation == "logistic":
        return [helper.make_node("Sigmoid", [x], [out])]
    return [helper.make_node("Softplus", [x], [f"{out}_sp"]), helper.make_node("Tanh", [f"{out}_sp"], [f"{out}_t"]),
            helper.make_node("Mul", [x, f"{out}_t"], [out])]  # mish: x tanh(softplus(x))


def _index(value: int, i: int, cfg, s: Section) -> int:
    j = i + value if value < 0 else value
    if not 0 <= j < i:
        key = "layers" if s.kind == "route" else "from"
        raise DataError(cfg, s.at(key), key, f"an earlier layer (0 to {i - 1})", value)
    return j


def _head(s: Section, cfg, channels: int) -> YoloHead:
    try:
        mask = [int(v) for v in s.options.get("mask", "").split(",") if v.strip()]
        flat = [float(v) for v in s.options.get("anchors", "").split(",") if v.strip()]
        classes = int(s.options.get("classes", 80))
    except ValueError as exc:
        raise DataError(cfg, s.line, "mask, anchors, classes", "numbers", str(exc)) from None
    anchors = list(zip(flat[0::2], flat[1::2]))
    mask = mask or list(range(len(anchors)))
    if not anchors or any(not 0 <= m < len(anchors) for m in mask):
        raise DataError(cfg, s.at("mask"), "mask", f"indices into the {len(anchors)} anchors", s.options.get("mask", ""))
    if channels != len(mask) * (5 + classes):
        raise DataError(cfg, s.at("classes"), "classes", f"the layer before to give {len(mask)} x (5 + classes) channels",
                        f"{channels} channels for {classes} classes")
    return YoloHead(tuple(anchors[m] for m in mask), classes, s.get("scale_x_y", 1.0, float))


def _weights(path: str | os.PathLike) -> np.ndarray:
    """The float32 weights after the header (major, minor, revision; then images seen, 64-bit from version 0.2)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: Darknet weights file not found")
    data = path.read_bytes()
    if len(data) < 16:
        raise DataError(path, None, "header", "a Darknet weights file (a 16- or 20-byte header, then floats)",
                        f"{len(data)} bytes")
    major, minor, _ = np.frombuffer(data[:12], np.int32)
    start = 20 if major * 10 + minor >= 2 else 16
    if (len(data) - start) % 4:
        raise DataError(path, None, "weights", "whole float32 values after the header", f"{len(data) - start} bytes")
    return np.frombuffer(data[start:], np.float32)


def decode_darknet(maps: list[np.ndarray], heads: list[YoloHead], size: int, score_threshold: float,
                   iou_threshold: float, max_detections: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), scores and classes from the yolo layers' raw maps, every scale's cells pooled
    before one non-maximum suppression per class."""
    boxes, scores = [], []
    for raw, head in zip(maps, heads):
        a, k = len(head.anchors), 5 + head.classes
        _, _, h, w = raw.shape
        t = raw.reshape(a, k, h, w).transpose(0, 2, 3, 1).astype(np.float32)  # (A, H, W, 5 + C)
        sig = 1.0 / (1.0 + np.exp(-t))
        offset = sig[..., :2] * head.scale_xy - (head.scale_xy - 1) / 2
        cx = (np.arange(w)[None, None, :] + offset[..., 0]) / w * size
        cy = (np.arange(h)[None, :, None] + offset[..., 1]) / h * size
        anchors = np.asarray(head.anchors, np.float32)
        bw = np.exp(np.minimum(t[..., 2], 20)) * anchors[:, 0, None, None]
        bh = np.exp(np.minimum(t[..., 3], 20)) * anchors[:, 1, None, None]
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1).reshape(-1, 4))
        scores.append((sig[..., 5:] * sig[..., 4:5]).reshape(-1, head.classes))
    boxes_all, score_all = np.concatenate(boxes), np.concatenate(scores)
    classes = score_all.argmax(1)
    best = score_all[np.arange(len(classes)), classes]
    mask = best >= score_threshold
    keep = nms(boxes_all[mask], best[mask], iou_threshold, classes[mask], max_detections)
    return boxes_all[mask][keep], best[mask][keep], classes[mask][keep]
