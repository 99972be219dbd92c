"""Drawing detections on frames (OpenCV), for ``--save`` and ``--show``."""

from __future__ import annotations

import numpy as np

from edgeward.core.errors import require


def annotate(frame: np.ndarray, detections, fps: float | None = None) -> np.ndarray:
    """A copy of the BGR frame with boxes, labels and scores, and the FPS in the corner."""
    cv2 = require("cv2", "camera")
    out = frame.copy()
    for d in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in d.box)
        colour = tuple(int(c) for c in np.random.default_rng(d.class_id).integers(64, 256, 3))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(out, f"{d.label} {d.score:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                    cv2.LINE_AA)
    if fps is not None:
        cv2.putText(out, f"{fps:.1f} FPS", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2, cv2.LINE_AA)
    return out
