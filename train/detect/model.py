"""The detector: a CenterNet-style single-stage head on a depthwise-separable backbone, in tf_keras.

One output tensor (N, S/stride, S/stride, C + 4), every value in [0, 1] so that a full-integer int8
file can share one scale: C class heatmaps (sigmoid; a peak marks an object centre) and the distances
from each cell centre to the box's left, top, right and bottom edges as fractions of the input size.
Training targets (Gaussian heatmaps, edge distances and their weights) are encoded here in numpy; the
decoder lives in the runtime (``runtime.detect_post.decode_centernet``).
"""

from __future__ import annotations

import math

import numpy as np

from edgeward.train.detect.config import DetectorShape

BN_MOMENTUM = 0.9  # as for the DS-CNN: Keras' 0.99 needs more steps than short trainings take (docs/decisions.md)
INPUT_NAME = "image"  # the model's input, in Keras and in every exported file
HEAT_PRIOR = 0.01  # initial heatmap probability (focal-loss prior; CenterNet's -2.19 bias)


def _ds_block(L, x, filters: int, stride: int, kernel: int, name: str):
    """Depthwise kxk (stride), BN, ReLU, pointwise 1x1, BN, ReLU; a residual add when shapes allow."""
    inp = x
    x = L.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    x = L.ReLU(name=f"{name}_dw_relu")(x)
    x = L.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_pw_bn")(x)
    x = L.ReLU(name=f"{name}_pw_relu")(x)
    if stride == 1 and inp.shape[-1] == filters:
        x = L.Add(name=f"{name}_add")([inp, x])
    return x


def build_detector(keras, n_classes: int, shape: DetectorShape = DetectorShape()):
    """Backbone to stride 16, a nearest-upsampled stride-16 branch added to stride 8, two heads."""
    L = keras.layers
    w0, w1, w2, w3 = shape.widths
    inputs = keras.Input(shape=(shape.size, shape.size, 3), name=INPUT_NAME)
    x = L.Conv2D(w0, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    x = _ds_block(L, x, w1, 2, 3, "s4a")
    x = _ds_block(L, x, w1, 1, 3, "s4b")
    x = _ds_block(L, x, w2, 2, 3, "s8a")
    x = _ds_block(L, x, w2, 1, 5, "s8b")
    c8 = _ds_block(L, x, w2, 1, 5, "s8c")
    x = _ds_block(L, c8, w3, 2, 5, "s16a")
    x = _ds_block(L, x, w3, 1, 5, "s16b")
    x = _ds_block(L, x, w3, 1, 5, "s16c")
    up = L.Conv2D(shape.neck, 1, use_bias=False, name="lat16")(x)
    up = L.BatchNormalization(momentum=BN_MOMENTUM, name="lat16_bn")(up)
    up = L.UpSampling2D(2, interpolation="nearest", name="up16")(up)
    lat = L.Conv2D(shape.neck, 1, use_bias=False, name="lat8")(c8)
    lat = L.BatchNormalization(momentum=BN_MOMENTUM, name="lat8_bn")(lat)
    x = L.ReLU(name="fuse_relu")(L.Add(name="fuse_add")([up, lat]))
    x = _ds_block(L, x, shape.neck, 1, 5, "neck")
    heads = []
    for head, channels, bias in (("heat", n_classes, -math.log((1 - HEAT_PRIOR) / HEAT_PRIOR)), ("box", 4, -2.0)):
        h = _ds_block(L, x, shape.neck, 1, 3, f"{head}_a")
        h = L.Conv2D(channels, 1, bias_initializer=keras.initializers.Constant(bias), name=f"{head}_logits")(h)
        heads.append(L.Activation("sigmoid", name=f"{head}_sigmoid")(h))
    outputs = L.Concatenate(name="detections")(heads)
    return keras.Model(inputs, outputs, name="centernet_ds")


def encode_targets(boxes: list[np.ndarray], classes: list[np.ndarray], n_classes: int,
                   shape: DetectorShape = DetectorShape()) -> np.ndarray:
    """Training targets (N, G, G, C + 5) from boxes in input pixels (xyxy) per image: C Gaussian
    heatmaps peaking at 1 in each object's centre cell, the four edge distances (fractions of the input
    size) and a regression weight (the object's Gaussian, so cells near centres count most)."""
    g, stride = shape.grid, shape.stride
    out = np.zeros((len(boxes), g, g, n_classes + 5), np.float32)
    centres = (np.arange(g) + 0.5) * stride
    for i, (bx, cl) in enumerate(zip(boxes, classes)):
        bx = np.asarray(bx, np.float64).reshape(-1, 4)
        order = np.argsort(-(bx[:, 2] - bx[:, 0]) * (bx[:, 3] - bx[:, 1]))  # large first: smaller ones win shared cells
        for k in order:
            x1, y1, x2, y2 = bx[k]
            w, h = x2 - x1, y2 - y1
            if w <= 1 or h <= 1:
                continue
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            col, row = min(int(cx // stride), g - 1), min(int(cy // stride), g - 1)
            sx = max(shape.gaussian_alpha * w / 6 / stride, 0.3)
            sy = max(shape.gaussian_alpha * h / 6 / stride, 0.3)
            gx = np.exp(-((np.arange(g) - col) ** 2) / (2 * sx * sx))
            gy = np.exp(-((np.arange(g) - row) ** 2) / (2 * sy * sy))
            gauss = gy[:, None] * gx[None, :]
            c = int(cl[k])
            np.maximum(out[i, :, :, c], gauss, out=out[i, :, :, c])
            inside = (centres[None, :] > x1) & (centres[None, :] < x2) & (centres[:, None] > y1) & (centres[:, None] < y2)
            region = inside & (gauss > 0.05)
            region[row, col] = True
            rr, cc = np.nonzero(region)
            out[i, rr, cc, n_classes:n_classes + 4] = np.stack(
                [centres[cc] - x1, centres[rr] - y1, x2 - centres[cc], y2 - centres[rr]], axis=1).clip(0, None) / shape.size
            out[i, rr, cc, n_classes + 4] = gauss[rr, cc]
    return out


def detector_loss(n_classes: int, box_weight: float = 5.0):
    """CenterNet's penalty-reduced focal loss on the heatmaps plus a GIoU loss on the edge distances,
    both normalised by the number of objects in the batch."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        heat_t, heat_p = y_true[..., :n_classes], tf.clip_by_value(y_pred[..., :n_classes], 1e-4, 1 - 1e-4)
        pos = tf.cast(heat_t >= 1.0 - 1e-6, tf.float32)
        n_obj = tf.maximum(tf.reduce_sum(pos), 1.0)
        focal = pos * tf.pow(1 - heat_p, 2) * tf.math.log(heat_p) + \
            (1 - pos) * tf.pow(1 - heat_t, 4) * tf.pow(heat_p, 2) * tf.math.log(1 - heat_p)
        heat_loss = -tf.reduce_sum(focal) / n_obj
        t, p = y_true[..., n_classes:n_classes + 4], y_pred[..., n_classes:n_classes + 4]
        weight = y_true[..., n_classes + 4]
        # both boxes share the cell centre: areas and intersection from the four distances
        area_t = (t[..., 0] + t[..., 2]) * (t[..., 1] + t[..., 3])
        area_p = (p[..., 0] + p[..., 2]) * (p[..., 1] + p[..., 3])
        iw = tf.minimum(t[..., 0], p[..., 0]) + tf.minimum(t[..., 2], p[..., 2])
        ih = tf.minimum(t[..., 1], p[..., 1]) + tf.minimum(t[..., 3], p[..., 3])
        inter = iw * ih
        union = area_t + area_p - inter + 1e-9
        enclose = (tf.maximum(t[..., 0], p[..., 0]) + tf.maximum(t[..., 2], p[..., 2])) * \
            (tf.maximum(t[..., 1], p[..., 1]) + tf.maximum(t[..., 3], p[..., 3])) + 1e-9
        giou = inter / union - (enclose - union) / enclose
        box_loss = tf.reduce_sum(weight * (1 - giou)) / tf.maximum(tf.reduce_sum(weight), 1e-6)
        return heat_loss + box_weight * box_loss

    return loss
