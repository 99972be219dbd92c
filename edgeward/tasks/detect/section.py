"""The detection task's part of the HTML report: data and model, AP per class, and the annotated video
the benchmark wrote."""

from __future__ import annotations

from edgeward.core.html import escape, image, plots, table
from edgeward.core.rundir import RunDir, TrainingRecord

ANNOTATED_DIR = "annotated"  # the benchmark's annotated video, GIF and frames, in the run directory


def section(run: RunDir, record: TrainingRecord) -> str:
    split, m, size = record.data.split, record.metrics["model"], record.payload.shape["size"]
    parts = [f"<p>Data: <code>{escape(record.data.path)}</code>: {split['train']:,} training, {split['val']:,} "
             f"validation and {split['test']:,} test images. CenterNet-style detector on a depthwise-separable backbone, "
             f"{size}x{size} input, {record.params:,} parameters, {record.epochs_run} epochs in {record.train_seconds} s. "
             f"Held-out mAP@0.5 {m['map50']:.3f}, mAP@0.5:0.95 {m['map50_95']:.3f} (Keras, decoded by the runtime's "
             "decoder)" + (f"; in font families training never drew, mAP@0.5 {m['unseen_fonts_map50']:.3f} "
                           f"({split.get('unseen-fonts', 0):,} images)" if "unseen_fonts_map50" in m else "") + ".</p>",
             table(["class", "AP@0.5", "AP@0.5:0.95"],
                   [[name, f"{v['ap50']:.3f}", f"{v['ap50_95']:.3f}"] for name, v in record.payload.per_class.items()])]
    bench = run.bench()
    video = next((v for v in (bench.payload.get("video", []) if bench else []) if "annotated" in v), None)
    if video:
        folder = run / ANNOTATED_DIR
        parts.append(f"<h3>Video</h3><p>{escape(video['artifact'])} on {video['frames']} frames of a generated video, one "
                     f"thread: {video['fps']:.0f} FPS end to end, video mAP@0.5 {video['video_map50']:.3f}. Every second frame "
                     f"below; the full annotated video is <code>{escape(str(folder / video['annotated']['video']))}</code>.</p>")
        parts.append(image(folder / video["annotated"]["gif"], "annotated video"))
        parts.append(plots([image(folder / f, f) for f in video["annotated"]["frames"]]))
    return "\n".join(parts)
