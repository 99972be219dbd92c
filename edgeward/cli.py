"""The ``edgeward`` command line: parses arguments, calls the Python API, prints, maps errors to exit codes.

Heavy modules (TensorFlow, the training and export code) are imported only by the verbs that need them.
"""

from __future__ import annotations

import argparse
import json
import sys

from edgeward.errors import EdgewardError, InputError


def _out(text: str) -> None:
    print(text, flush=True)


def cmd_data(args) -> int:
    if args.task == "detect":
        from edgeward.train.detect_data import DetectDataConfig, generate_digits

        summary = generate_digits(args.out, DetectDataConfig(train=args.images, val=args.holdout, test=args.holdout, seed=args.seed), progress=True)
        parts = [f"{split} {n['images']} images / {n['objects']} digits" for split, n in summary["splits"].items()]
        _out(f"wrote {', '.join(parts)} to {args.out} (YOLO layout, data.yaml)")
        if args.video_seconds > 0:
            from pathlib import Path

            from edgeward.train.detect_data import write_video

            v = write_video(Path(args.out) / "video.mp4", Path(args.out) / "video.csv", seconds=args.video_seconds, seed=args.seed + 1)
            _out(f"wrote {v['video']} ({v['frames']} frames) and its ground truth {v['csv']}")
        return 0
    if args.task == "commands":
        from edgeward.train.commands_data import CommandsDataConfig, generate_commands, write_streams

        val_minutes = args.stream_minutes if args.val_stream_minutes is None else args.val_stream_minutes
        lengths = {"test": args.stream_minutes, "val": val_minutes, "train": args.train_stream_minutes}
        for flag, minutes in zip(("--stream-minutes", "--val-stream-minutes", "--train-stream-minutes"), lengths.values()):
            if minutes < 0:  # checked before minutes of speaking, not after
                raise InputError(f"data commands {flag}: expected minutes >= 0 (0: no stream), got {minutes:g}")
        summary = generate_commands(args.out, CommandsDataConfig(per_class=args.per_class, seed=args.seed), progress=True)
        _out(f"wrote {summary['clips']:,} clips ({', '.join(f'{k} {v}' for k, v in summary['per_label'].items())}) to {args.out}; "
             f"voices train/val/test: {summary['voices']['train']}/{summary['voices']['val']}/{summary['voices']['test']}")
        for s in write_streams(args.out, args.seed, lengths, progress=True):
            _out(f"wrote {s['wav']} ({s['seconds'] / 60:.1f} min, {s['split']} voices, {s['commands']} commands, "
                 f"{s['words']} words) and {s['csv']}")
        return 0
    from edgeward.train.fraud_data import FraudSimConfig, write_fraud_csv

    summary = write_fraud_csv(args.out, FraudSimConfig(rows=args.rows, days=args.days, seed=args.seed))
    _out(f"wrote {summary['rows']:,} transactions ({summary['frauds']:,} fraud, {summary['fraud_rate']:.2%}) to {summary['path']}")
    return 0


def cmd_train(args) -> int:
    if args.task == "detect":
        from edgeward.train.detect import DetectTrainConfig, train_detect

        config = DetectTrainConfig(epochs=args.epochs, seed=args.seed, **({"batch_size": args.batch} if args.batch else {}))
        report = train_detect(args.data, args.out, config, images_dir=args.images, progress=True)
        m = report["metrics"]["model"]
        _out(f"trained on {report['data']['split']['train']:,} images, {report['epochs_run']} epochs, {report['train_seconds']} s; "
             f"held-out mAP@0.5 {m['map50']:.3f}, mAP@0.5:0.95 {m['map50_95']:.3f} ({report['data']['split']['test']:,} images); "
             f"run directory: {args.out}")
        return 0
    if args.task == "commands":
        from edgeward.train.commands import CommandsTrainConfig, train_commands

        sizes = {k: v for k, v in (("filters", args.filters), ("blocks", args.blocks)) if v is not None}
        for name, v in sizes.items():
            if v < 1:  # checked before the clips are read, not by Keras after
                raise InputError(f"train commands --{name}: expected a whole number >= 1, got {v}")
        config = CommandsTrainConfig(epochs=args.epochs, seed=args.seed, dilate=not args.no_dilate, **sizes)
        report = train_commands(args.data, args.out, config, progress=True)
        m = report["metrics"]["model"]
        _out(f"trained on {report['data']['split']['train']:,} clips, {report['epochs_run']} epochs, {report['train_seconds']} s; "
             f"accuracy on held-out voices {m['accuracy']:.2%} ({report['data']['split']['test']:,} clips); run directory: {args.out}")
        return 0
    if args.label is None:
        raise InputError("train fraud: expected --label COLUMN, got none")
    from edgeward.train.fraud import FraudTrainConfig, train_fraud

    config = FraudTrainConfig(epochs=args.epochs, seed=args.seed, baseline=not args.no_baseline)
    features = args.features.split(",") if args.features else None
    time_column = None if args.time == "none" else args.time
    report = train_fraud(args.data, args.label, args.out, config, time_column=time_column, features=features,
                         progress=True, from_model=args.from_model)
    if args.from_model:
        _out(f"adopted {args.from_model} (no training); evaluated on the same split")
    _out(f"trained on {report['data']['split']['train']:,} rows, {report['epochs_run']} epochs, {report['train_seconds']} s; "
         f"held-out tail: {report['data']['split']['test']:,} rows, {report['data']['split']['test_frauds']} frauds")
    for name, m in report["metrics"].items():
        _out(f"  {name:8s} AUPRC {m['auprc']:.4f}  ROC-AUC {m['roc_auc']:.4f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}")
    _out(f"decision threshold (max F1 on validation): {report['threshold']:.4f}; run directory: {args.out}")
    return 0


def cmd_compress(args) -> int:
    from edgeward.train.compress import CompressConfig, compress_run

    config = CompressConfig(sparsity=args.sparsity, qat=args.qat, prune_epochs=args.prune_epochs, qat_epochs=args.qat_epochs)
    report = compress_run(args.run, config, progress=True)
    _out(f"base model: {report['metric']} {report['base']['metric']:.4f}")
    for key in ("pruned", "qat", "pruned-qat"):
        if key in report:
            r = report[key]
            sparsity = ", ".join(f"{k} {v:.0%}" for k, v in r["sparsity"].items())
            _out(f"{key:10s} {report['metric']} {r['metric']:.4f} ({(r['metric'] - report['base']['metric']) * 100:+.2f} points) "
                 f"-> {args.run}/{r['file']}" + (f"; sparsity: {sparsity}" if sparsity else ""))
    return 0


def _specs(args):
    from edgeward.export.artifacts import ArtifactSpec, Calibration, Format, Precision, Source
    from edgeward.export.engine import available_specs

    if args.all:
        return available_specs(args.run)
    formats = [Format.ONNX, Format.TFLITE] if args.format == "all" else [Format(args.format)]
    source = Source(args.source)
    precisions = [Precision(p) for p in args.precision.split(",")]
    specs = []
    for fmt in formats:
        for precision in precisions:
            if precision is Precision.INT8_DYNAMIC and fmt is Format.ONNX:
                continue
            specs.append(ArtifactSpec(fmt, precision, source, per_channel=not args.per_tensor,
                                      calibration=Calibration(args.calibration), int8_io=args.int8_io).check())
    return tuple(specs)


def cmd_export(args) -> int:
    from edgeward.export.engine import ExportOptions, export_run
    from edgeward.export.report_table import export_table
    from edgeward.export.validate import Budget, ValidationError

    budget = Budget(max_drop=args.max_drop if args.max_drop is not None else 1.0, fp32_tolerance=args.tolerance)
    options = ExportOptions(specs=_specs(args), budget=budget, search=args.max_drop is not None, device=args.device)
    try:
        export_run(args.run, options, progress=True)
    except ValidationError:
        _out(export_table(args.run))
        raise
    _out(export_table(args.run))
    return 0


def cmd_score(args) -> int:
    from edgeward.runtime import FraudScorer, score_csv

    with FraudScorer.from_file(args.model, device=args.device, threads=args.threads, threshold=args.threshold) as scorer:
        s = score_csv(scorer, args.input, args.out, args.rejects, progress=True)
    _out(f"scored {s.scored:,} rows ({s.flagged:,} flagged) -> {s.scores_path}")
    _out(f"rejected {s.rejected:,} rows -> {s.rejects_path}")
    _out(f"{s.rows:,} input rows = {s.scored:,} scored + {s.rejected:,} rejected")
    return 0


def cmd_bench(args) -> int:
    from edgeward.export.bench import BenchOptions, bench_run, markdown

    result = bench_run(args.run, BenchOptions(device=args.device, vs_keras=not args.no_keras), progress=True)
    _out(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


def cmd_devices(args) -> int:
    from edgeward.devices import closest_profile, detect, list_profiles, load_profile

    if args.action == "list":
        for p in list_profiles():
            _out(f"{p.name:16s} {p.format:6s} {p.precision:5s} {','.join(b.value for b in p.backends):22s} {p.description}")
    elif args.action == "show":
        if not args.name:
            raise InputError("devices show: expected a profile name (see `edgeward devices list`), got none")
        p = load_profile(args.name)
        for key, value in p.__dict__.items():
            value = [getattr(v, "value", v) for v in value] if isinstance(value, tuple) else value
            _out(f"{key:12s} {value}")
    else:
        host = detect()
        for key, value in host.__dict__.items():
            _out(f"{key:13s} {', '.join(value) if isinstance(value, tuple) else value}")
        _out(f"{'int8 fast':13s} {host.int8_fast}")
        _out(f"{'closest':13s} {closest_profile(host).name}")
        from edgeward.runtime.audio_sources import input_devices

        mics = input_devices()
        _out(f"{'audio inputs':13s} " + ("; ".join(f"{d['index']}: {d['name']} ({d['channels']} ch, {d['rate']:.0f} Hz)" for d in mics)
                                         or "none (no PortAudio input device)"))
    return 0


def cmd_run(args) -> int:
    if args.task == "detect":
        return _run_detect(args)
    from edgeward.runtime.audio_sources import open_source
    from edgeward.runtime.commands import CommandRecognizer, RecognizerOptions

    options = RecognizerOptions(hop_ms=args.hop_ms)
    with CommandRecognizer.from_file(args.model, device=args.device, threads=args.threads, options=options) as rec, \
            open_source(args.source) as source:
        try:
            for event in rec.stream(source):
                if args.json:
                    _out(json.dumps({"label": event.label, "score": event.score, "start": event.start, "end": event.end}))
                else:
                    _out(f"{event.start:9.2f}-{event.end:7.2f} s  {event.label:6s} {event.score:.2f}")
        finally:
            overflows = getattr(source, "overflows", 0)
            if overflows or getattr(source, "dropped", 0):
                print(f"audio input overflows: {overflows}, blocks dropped: {source.dropped}", file=sys.stderr)
    return 0


def _run_detect(args) -> int:
    import time

    from edgeward.errors import require
    from edgeward.runtime.detect import Detector, DetectorOptions
    from edgeward.runtime.draw import annotate
    from edgeward.runtime.video import LatestFrames

    options = DetectorOptions(score_threshold=args.score, max_detections=args.max_det,
                              classes=tuple(args.classes.split(",")) if args.classes else None)
    detector = (Detector.from_yolo(args.model, args.labels, device=args.device, threads=args.threads, options=options)
                if args.labels else Detector.from_file(args.model, device=args.device, threads=args.threads, options=options))
    source = int(args.source) if args.source.isdigit() else args.source
    cv2 = require("cv2", "camera") if args.save or args.show else None
    writer, last, fps = None, time.perf_counter(), None
    with detector, LatestFrames(source) as frames:
        try:
            for number, frame in frames.frames():
                found = detector.detect(frame)
                now = time.perf_counter()
                fps = 1.0 / max(now - last, 1e-9) if fps is None else 0.9 * fps + 0.1 / max(now - last, 1e-9)
                last = now
                if args.json:
                    _out(json.dumps({"frame": number, "detections": [{"label": d.label, "score": round(d.score, 4),
                                                                       "box": [round(v, 1) for v in d.box]} for d in found],
                                     **{k: round(v, 3) for k, v in detector.timings.items()}}))
                if args.save or args.show:
                    drawn = annotate(frame, found, fps)
                    if args.save:
                        if writer is None:
                            writer = cv2.VideoWriter(args.save, cv2.VideoWriter_fourcc(*"mp4v"), 30.0,
                                                     (frame.shape[1], frame.shape[0]))
                        writer.write(drawn)
                    if args.show:
                        try:
                            cv2.imshow("edgeward", drawn)
                        except cv2.error:
                            raise InputError("--show needs OpenCV with a GUI (pip install opencv-python); "
                                             "this one is headless: use --save") from None
                        if cv2.waitKey(1) & 0xFF == ord("q"):
                            break
        finally:
            if writer is not None:
                writer.release()
    print(f"frames: {frames.read_count}, dropped: {frames.dropped}", file=sys.stderr)
    return 0


def cmd_tune(args) -> int:
    from edgeward.export.stream_eval import background_text, counts_text, snr_text
    from edgeward.export.tune_commands import tune_thresholds

    result = tune_thresholds(args.run, max_false_alarms_per_hour=args.max_false_alarms)
    for row in result["tried"]:
        _out(f"floor {row['floor']:.2f}: {row['detection_rate']:.1%} of {row['commands']} commands, "
             f"{row['false_alarms']} false alarms ({row['false_alarms_per_hour']:.1f} per hour)")
    _out(f"chose floor {result['floor']:.2f} on the validation stream: {result['reason']}; thresholds written to "
         f"{args.run}/train.json (export again to embed them)")
    chosen = result["chosen"]
    _out(f"at that floor, missed: {counts_text(chosen['missed'])}; false alarms: {counts_text(chosen['false_alarm_causes'])}; "
         f"detected by background: {background_text(chosen['by_background'])}; by SNR: {snr_text(chosen['by_snr'])}")
    return 0


def cmd_report(args) -> int:
    from edgeward.report import write_report

    _out(f"wrote {write_report(args.run)}")
    return 0


def cmd_demo(args) -> int:
    from edgeward.demo import DemoOptions, run_demo

    result = run_demo(DemoOptions(out=args.out, rows=args.rows, epochs=args.epochs), log=_out)
    _out(f"report:    {result.report}")
    _out(f"artifacts: {result.artifacts}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgeward", description="Take Keras models to devices.")
    sub = p.add_subparsers(dest="verb", required=True)

    d = sub.add_parser("data", help="generate a dataset")
    d.add_argument("task", choices=["fraud", "commands", "detect"])
    d.add_argument("out", help="output CSV (fraud) or folder (commands, detect)")
    d.add_argument("--images", type=int, default=2000, help="detect: training images")
    d.add_argument("--holdout", type=int, default=300, help="detect: validation and test images, each")
    d.add_argument("--video-seconds", type=float, default=10.0, help="detect: video of moving digits (0: none)")
    d.add_argument("--per-class", type=int, default=400, help="commands: training clips per label")
    d.add_argument("--stream-minutes", type=float, default=10.0, help="commands: long stream WAV with ground truth (0: none)")
    d.add_argument("--val-stream-minutes", type=float, default=None,
                   help="commands: the validation stream `tune` chooses thresholds on (default: --stream-minutes)")
    d.add_argument("--train-stream-minutes", type=float, default=0.0,
                   help="commands: a stream of the training voices, which `bench` sets beside the test voices' (0: none)")
    d.add_argument("--rows", type=int, default=200_000)
    d.add_argument("--days", type=int, default=120)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(fn=cmd_data)

    t = sub.add_parser("train", help="train a model on a dataset")
    t.add_argument("task", choices=["fraud", "commands", "detect"])
    t.add_argument("--data", required=True, help="fraud: CSV of numeric features and a 0/1 label; commands: Speech Commands "
                                                 "folder; detect: YOLO folder (data.yaml) or COCO JSON")
    t.add_argument("--images", help="detect, COCO JSON: the folder of its images")
    t.add_argument("--batch", type=int, help="detect: batch size (default 32)")
    t.add_argument("--filters", type=int, help="commands: DS-CNN width (default 64; 80 still fits int8 in 64 KB)")
    t.add_argument("--blocks", type=int, help="commands: depthwise-separable blocks (default 4)")
    t.add_argument("--no-dilate", action="store_true", help="commands: undilated blocks (0.26 s receptive field, not 0.7 s)")
    t.add_argument("--label", help="fraud: the label column")
    t.add_argument("--out", required=True, help="run directory to write")
    t.add_argument("--time", default="auto", help="time column to split by (default: timestamp/Time if present; 'none': file order)")
    t.add_argument("--features", help="comma-separated feature columns (default: all but label, time and *_id)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-baseline", action="store_true", help="skip the HistGradientBoosting baseline")
    t.add_argument("--from-model", help="adopt a Keras model (tf_keras or Keras 3 .keras) trained elsewhere instead of training")
    t.set_defaults(fn=cmd_train)

    c = sub.add_parser("compress", help="prune and/or quantization-aware train a run's model (tf_keras)")
    c.add_argument("run", help="training run directory")
    c.add_argument("--sparsity", type=float, help="magnitude pruning to this fraction of zero weights, e.g. 0.5")
    c.add_argument("--qat", action="store_true", help="quantization-aware training (after pruning, zeros are kept)")
    c.add_argument("--prune-epochs", type=int, default=4)
    c.add_argument("--qat-epochs", type=int, default=3)
    c.set_defaults(fn=cmd_compress)

    e = sub.add_parser("export", help="export a run to ONNX/TFLite artifacts, each checked against Keras")
    e.add_argument("run", help="training run directory")
    e.add_argument("--format", default="onnx", choices=["onnx", "tflite", "all"])
    e.add_argument("--precision", default="fp32", help="fp32, fp16, int8, int8-dynamic (TFLite), comma-separated")
    e.add_argument("--source", default="base", choices=["base", "pruned", "qat", "pruned-qat"],
                   help="which Keras model: the trained one, or one made by `compress`")
    e.add_argument("--all", action="store_true", help="every format and precision from every model the run has")
    e.add_argument("--calibration", default="minmax", choices=["minmax", "entropy", "percentile"], help="ONNX int8 calibration")
    e.add_argument("--per-tensor", action="store_true", help="ONNX int8: per-tensor weights (default per-channel)")
    e.add_argument("--int8-io", action="store_true", help="TFLite int8: int8 input and output tensors")
    e.add_argument("--max-drop", type=float, help="int8: try candidates until the metric drop is <= this many points")
    e.add_argument("--tolerance", type=float, default=1e-5, help="fp32: max abs diff allowed against Keras")
    e.add_argument("--device", default="auto", help="target device profile: where artifacts are checked and timed")
    e.set_defaults(fn=cmd_export)

    s = sub.add_parser("score", help="score a CSV of transactions with a fraud model")
    s.add_argument("model")
    s.add_argument("--input", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--rejects", help="rejects CSV (default: OUT with .rejects.csv)")
    s.add_argument("--threshold", type=float, help="override the model's decision threshold")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int)
    s.set_defaults(fn=cmd_score)

    b = sub.add_parser("bench", help="benchmark every artifact of a run, and the runtime against Keras")
    b.add_argument("run")
    b.add_argument("--device", default="auto", help="device profile (providers, threads)")
    b.add_argument("--no-keras", action="store_true", help="skip the runtime-vs-Keras comparison")
    b.add_argument("--json", action="store_true")
    b.set_defaults(fn=cmd_bench)

    v = sub.add_parser("devices", help="device profiles and this host")
    v.add_argument("action", choices=["list", "show", "detect"])
    v.add_argument("name", nargs="?")
    v.set_defaults(fn=cmd_devices)

    u = sub.add_parser("run", help="run a model on a live source")
    u.add_argument("task", choices=["commands", "detect"])
    u.add_argument("model")
    u.add_argument("--source", required=True,
                   help="commands: mic, mic:N or a WAV file; detect: a camera index, a video file, a URL or an image folder")
    u.add_argument("--json", action="store_true", help="one JSON object per event (commands) or frame (detect)")
    u.add_argument("--hop-ms", type=float, default=250.0, help="commands: window hop")
    u.add_argument("--labels", help="detect: class names of a YOLOv5/YOLOv8 ONNX model made elsewhere (txt or data.yaml)")
    u.add_argument("--save", help="detect: write the annotated video here (.mp4)")
    u.add_argument("--show", action="store_true", help="detect: show the annotated video (needs a GUI OpenCV)")
    u.add_argument("--score", type=float, help="detect: score threshold (default: the model's, else 0.25)")
    u.add_argument("--classes", help="detect: comma-separated class allowlist")
    u.add_argument("--max-det", type=int, default=100, help="detect: most detections per frame")
    u.add_argument("--device", default="auto")
    u.add_argument("--threads", type=int)
    u.set_defaults(fn=cmd_run)

    n = sub.add_parser("tune", help="commands: choose stream thresholds on the validation stream")
    n.add_argument("task", choices=["commands"])
    n.add_argument("run")
    n.add_argument("--max-false-alarms", type=float, default=2.0, help="per hour, on the validation stream")
    n.set_defaults(fn=cmd_tune)

    r = sub.add_parser("report", help="(re)write a run's HTML report")
    r.add_argument("run")
    r.set_defaults(fn=cmd_report)

    m = sub.add_parser("demo", help="the whole flow on generated data, with an HTML report")
    m.add_argument("--out", default="runs/demo")
    m.add_argument("--rows", type=int, default=200_000)
    m.add_argument("--epochs", type=int, default=30)
    m.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except EdgewardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
