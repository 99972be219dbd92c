"""The ``edgeward`` command line: parses arguments, calls the Python API, prints, maps errors to exit codes.

The task verbs (``data``, ``train``, ``run``, ``tune``) take a sub-command per registered task, with flags
made from that task's configuration dataclasses (``edgeward train TASK --help``). Heavy modules
(TensorFlow, the training and export code) are imported only by the verbs that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from edgeward.core.errors import DeviceError, EdgewardError, InputError, Interrupted, Terminated


def _out(text: str) -> None:
    print(text, flush=True)


def _lines(lines) -> None:
    for line in lines:
        _out(line)


def cmd_data(args) -> int:
    from edgeward.app.flags import config_from

    _lines(args.spec.generate(Path(args.out), config_from(args, args.spec.data_config), progress=True))
    return 0


def cmd_train(args) -> int:
    from edgeward.app.flags import config_from

    config = config_from(args, args.spec.train_config)  # checked before any data is read
    record = args.spec.train(Path(args.data), Path(args.out), config, progress=True)
    lines = args.spec.describe(record)
    _lines([*lines[:-1], f"{lines[-1]}; run directory: {args.out}"])
    return 0


def cmd_compress(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.train.compress import CompressConfig, compress_run

    report = compress_run(args.run, config_from(args, CompressConfig), progress=True)
    _out(f"base model: {report['metric']} {report['base']['metric']:.4f}")
    for key in ("pruned", "qat", "pruned-qat"):
        if key in report:
            r = report[key]
            sparsity = ", ".join(f"{k} {v:.0%}" for k, v in r["sparsity"].items())
            _out(f"{key:10s} {report['metric']} {r['metric']:.4f} ({(r['metric'] - report['base']['metric']) * 100:+.2f} points) "
                 f"-> {args.run}/{r['file']}" + (f"; sparsity: {sparsity}" if sparsity else ""))
    return 0


def _targets(text: str | None, flag: str = "--targets"):
    """CPU classes from a comma-separated flag (None when not given), or an InputError naming the choices."""
    from edgeward.devices.cpu import parse_classes

    if text is None:
        return None
    try:
        return parse_classes(text, flag)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _specs(args, run: str):
    from edgeward.export.artifacts import ArtifactSpec, Calibration, Format, Precision, Source
    from edgeward.export.engine import available_specs

    if args.all or (args.model and args.format is None and args.precision is None):
        return available_specs(run)
    fmt, precision = args.format or "onnx", args.precision or "fp32"
    formats = [Format.ONNX, Format.TFLITE] if fmt == "all" else [Format(fmt)]
    source = Source(args.source)
    try:
        precisions = [Precision(p) for p in precision.split(",")]
    except ValueError:
        raise InputError(f"export --precision: expected fp32, fp16, int8 or int8-dynamic, comma-separated, "
                         f"got {precision!r}") from None
    specs = []
    for fmt in formats:
        for precision in precisions:
            if precision is Precision.INT8_DYNAMIC and fmt is Format.ONNX:
                continue
            specs.append(ArtifactSpec(fmt, precision, source, per_channel=not args.per_tensor,
                                      calibration=Calibration(args.calibration_method), int8_io=args.int8_io).check())
    return tuple(specs)


def cmd_export(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.export.engine import ExportOptions, export_run
    from edgeward.export.tables import export_table
    from edgeward.export.validate import Budget, ValidationError
    from edgeward.train.adopt import AdoptOptions, adopt_model

    if bool(args.model) == bool(args.run) or bool(args.model) != bool(args.out):
        raise InputError("export: expected a run directory (edgeward export RUN) or a model of yours "
                         f"(edgeward export --model MODEL --out RUN), got run={args.run!r}, --model={args.model!r}, "
                         f"--out={args.out!r}")
    run = args.run
    if args.sign:
        from edgeward.core.signing import check_private_key

        check_private_key(args.sign)  # a bad key is said before adoption and export, not after them
    if args.model:
        options = replace(config_from(args, AdoptOptions), model=args.model)
        record = adopt_model(options, args.out, progress=True)
        from edgeward.core.registry import get_task

        _lines(get_task(record.task).describe(record))
        run = args.out
    max_drop = args.max_drop if args.max_drop is not None else 1.0
    budget = Budget(max_drop=max_drop, fp32_tolerance=args.tolerance)
    options = ExportOptions(specs=_specs(args, run), budget=budget, search=args.max_drop is not None or bool(args.model),
                            device=args.device, targets=_targets(args.targets), sign=args.sign)
    try:
        result = export_run(run, options, progress=True)
    except ValidationError:
        _out(export_table(run))
        raise
    _out(export_table(run))
    for path in result.signed:
        _out(f"signed: {path}")
    return 0


def serve_options(args):
    """``serve``'s options from its flags: the server's, and those of the runtimes its live sources may run."""
    from edgeward.app.flags import config_from
    from edgeward.runtime.registry import Feed, options_types
    from edgeward.runtime.services.serve.options import ServeOptions

    runtimes = tuple(config_from(args, kind) for kind in options_types(Feed.VIDEO, Feed.AUDIO))
    return replace(config_from(args, ServeOptions), runtimes=runtimes)


def cmd_serve(args) -> int:
    from edgeward.runtime.services.serve.app import serve

    serve(args.models, serve_options(args), log=_out)
    return 0


def cmd_bench_serve(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.app.serve_bench import ServeBenchOptions, bench_serve, markdown

    _out(markdown(bench_serve(args.model, config_from(args, ServeBenchOptions), log=_out)))
    return 0


def cmd_batch(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.runtime.services.batch import BatchOptions, run_batch

    s = run_batch(args.model, args.input, args.output, config_from(args, BatchOptions), progress=True, log=_out)
    _out(f"{s.rows:,} rows in {s.seconds:.1f} s ({s.rows_per_second:,.0f} rows/s, {s.engine}): {s.scored:,} scored "
         f"({s.flagged:,} flagged), {s.rejected:,} rejected -> {args.output}/scores, {args.output}/rejects")
    return 0


def cmd_bench_batch(args) -> int:
    from edgeward.app.batch_bench import BatchBenchOptions, bench_batch, markdown
    from edgeward.app.flags import config_from

    _out(markdown(bench_batch(args.run, config_from(args, BatchBenchOptions), log=_out)))
    return 0


def cmd_triton(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.export.triton import TritonOptions, write_repository

    options = config_from(args, TritonOptions)
    for folder in write_repository(args.repo, args.models, options):
        _out(f"wrote {folder}/config.pbtxt and {folder}/1/model.onnx")
    _out(f"serve it: edgeward serve {args.repo}, or with Triton (not run here): docker run --rm -p 8000:8000 "
         f"-v $PWD/{args.repo}:/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models")
    return 0


def cmd_score(args) -> int:
    from edgeward.core.registry import get_task, tasks_that
    from edgeward.export.bench import BenchOptions
    from edgeward.runtime import Model

    with Model(args.model, device=args.device, threads=args.threads) as model:
        spec = get_task(model.manifest.task)
        if not spec.offers("score_file"):
            raise InputError(f"{args.model}: a {spec.name} model scores no files of rows; the tasks that do: "
                             f"{', '.join(tasks_that('score_file'))}")
        _lines(spec.score_file(model, Path(args.input), Path(args.out), Path(args.rejects) if args.rejects else None,
                               args.threshold, progress=True))
    return 0


def cmd_bench(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.export.bench import BenchOptions, bench_run, markdown

    options = replace(config_from(args, BenchOptions), device=args.device, vs_keras=not args.no_keras,
                      heldout=tuple(args.heldout), targets=_targets(args.target, "--target"))
    result = bench_run(args.run, options, progress=True)
    _out(result.to_json() if args.json else markdown(result))
    return 0


def cmd_verify(args) -> int:
    from edgeward.runtime.engine.verify import verify_model

    for path in args.models:
        found = verify_model(path, key=args.key)
        p = found.manifest.provenance
        _out(f"{found.source}: ok, {found.proves} (sha256 {found.sha256[:16]}...; {found.manifest.task} "
             f"{found.manifest.format} {found.manifest.precision}, edgeward {p.edgeward}, {p.created_at})")
    return 0


def cmd_keys(args) -> int:
    from edgeward.core.signing import make_keys

    private, public = make_keys(args.name)
    _out(f"private key: {private} (keep it secret: it signs; mode 0600)\npublic key:  {public} (hand it out: "
         f"edgeward verify --key {public} MODEL)")
    return 0


def cmd_sign(args) -> int:
    from edgeward.core.signing import check_private_key, sign_file

    check_private_key(args.key)
    for path in args.models:
        _out(f"signed: {sign_file(path, args.key)}")
    return 0


def cmd_devices(args) -> int:
    from edgeward.devices import closest_profile, list_profiles, load_profile, this_host

    if args.action == "list":
        _out(f"{'profile':16s} {'format':6s} {'precision':9s} {'backends':22s} description")
        for p in list_profiles():
            _out(f"{p.name:16s} {p.format:6s} {p.precision:9s} {','.join(b.value for b in p.backends):22s} {p.description}")
    elif args.action == "show":
        if not args.name:
            raise InputError("devices show: expected a profile name (see `edgeward devices list`), got none")
        p = load_profile(args.name)
        for key, value in p.__dict__.items():
            value = [getattr(v, "value", v) for v in value] if isinstance(value, tuple) else getattr(value, "value", value)
            _out(f"{key:12s} {value}")
    else:
        host = this_host()
        for key, value in host.__dict__.items():
            _out(f"{key:13s} {', '.join(value) if isinstance(value, tuple) else value}")
        _out(f"{'int8 fast':13s} {host.int8_fast}")
        _out(f"{'cpu class':13s} " + (f"{host.cpu_class.value}: {host.cpu_class.kernels}" if host.cpu_class else
                                      "none edgeward checks int8 files on"))
        _out(f"{'int8 checks':13s} " + _checkable_classes())
        _out(f"{'closest':13s} {closest_profile(host).name}")
        if not host.providers:  # no onnxruntime: say why, and what to do
            from edgeward.devices.host import import_onnxruntime

            try:
                import_onnxruntime()
            except DeviceError as exc:
                _out(f"{'onnxruntime':13s} missing: {exc}")
        from edgeward.runtime.io.audio_sources import input_devices

        mics = input_devices()
        _out(f"{'audio inputs':13s} " + ("; ".join(f"{d['index']}: {d['name']} ({d['channels']} ch, {d['rate']:.0f} Hz)" for d in mics)
                                         or "none (no PortAudio input device)"))
    return 0


def _checkable_classes() -> str:
    """Which CPU classes this host can check int8 files on, and how (or why not)."""
    from edgeward.devices.cpu import CpuClass, running_class
    from edgeward.devices.emulators import how, unavailable

    here = running_class()
    return "; ".join(f"{c.value}: " + ("this CPU" if c is here else (f"cannot ({why})" if (why := unavailable(c, here))
                                                                      else f"emulated ({how(c, here)})")) for c in CpuClass)


def cmd_models(args) -> int:
    from edgeward.runtime.engine import catalogue

    if args.action == "list":
        for m in catalogue.catalogue().values():
            notes = m.release
            _out(f"{m.name}  ({m.task}{', the default' if notes.get('default') else ''}): {notes.get('title', '')}")
            _out("  files:   " + ", ".join(f"{f.path.name} ({f.path.stat().st_size / 1024:.0f} KB)" for f in m.files))
            for metric in notes.get("metrics", []):
                _out(f"  {metric['name']:8s} {metric['value']:.3f} on {metric['data']}")
            _out(f"  made by: {notes.get('rebuild', '?')} ({len(notes.get('recipe', []))} steps, seeds {notes.get('seeds', {})}, "
                 f"released {notes.get('released', '?')})")
        if not catalogue.catalogue():
            _out(f"no models in {catalogue.catalogue_dir()}")
        return 0
    if not args.name:
        raise InputError("models path: expected a catalogue model's name (see `edgeward models list`), got none")
    model = catalogue.get(args.name)
    if args.file is None:
        _out(str(model.file()))
        return 0
    found = [f.path for f in model.files if f.path.name == args.file]
    if not found:
        raise InputError(f"models path {args.name} --file: expected one of {[f.path.name for f in model.files]}, "
                         f"got {args.file!r}")
    _out(str(found[0]))
    return 0


def cmd_zoo(args) -> int:
    from edgeward.train.zoo.rows import ROWS, find_rows

    if args.action == "list":
        for row in find_rows(args.names):
            _out(f"{row.number:2d}. {row.name:13s} {row.article}")
            _out(f"    runs as: {row.face}; " + ("checked by `edgeward zoo check`" if row.checked else f"next: {row.waits}"))
        _out(f"{sum(r.checked for r in ROWS)} of {len(ROWS)} in the zoo")
        return 0
    from edgeward.app.zoo import ZooOptions, check, table

    results = check(args.names, Path(args.out), ZooOptions(full=args.full, readme=args.readme,
                                                          targets=_targets(args.targets)), progress=True)
    _out(table(results))
    return 0


def model_for_run(args) -> str:
    """``edgeward run TASK [MODEL] [--model MODEL]``: the model given once, or the task's catalogue default."""
    from edgeward.runtime.engine.catalogue import default_for

    if args.model and args.model_option:
        raise InputError(f"run {args.task}: give the model once, as MODEL or --model, got {args.model!r} and "
                         f"{args.model_option!r}")
    model = args.model or args.model_option or default_for(args.task)
    if model is None:
        raise InputError(f"run {args.task}: expected a model (a file, or a name from `edgeward models list`); "
                         f"the catalogue has no default {args.task} model")
    return model


def cmd_run(args) -> int:
    from edgeward.app.flags import config_from

    spec = args.spec
    model = model_for_run(args)
    options = config_from(args, spec.run_options)
    emit = (lambda r: _out(json.dumps(r))) if args.json else (lambda r: _out(spec.result_text(r)))
    spec.live(model, args.source, options, args.device, args.threads, emit, lambda s: print(s, file=sys.stderr))
    return 0


def cmd_tune(args) -> int:
    from edgeward.app.flags import config_from
    from edgeward.core.rundir import RunDir

    _lines(args.spec.tune(RunDir(args.run), config_from(args, args.spec.tune_options)))
    return 0


def cmd_report(args) -> int:
    from edgeward.app.report import write_report

    _out(f"wrote {write_report(args.run)}")
    return 0


def cmd_demo(args) -> int:
    from edgeward.app.demo import DemoOptions, run_demo
    from edgeward.app.flags import config_from
    from edgeward.core.registry import get_task, tasks_that
    from edgeward.export.bench import BenchOptions

    options = config_from(args, DemoOptions)
    sizes = {}  # each task's sizes: the tier's (the quick or the full demo's), with the flags given
    for name in tasks_that("demo"):
        config = get_task(name).demo_config
        sizes[name] = config_from(args, config, f"{name}_", base=config() if options.full else config.quick())
    result = run_demo(DemoOptions(**{**options.__dict__, "sizes": sizes}), log=_out)
    _out(f"report:    {result.report}")
    _out(f"artifacts: {result.out}/*/artifacts")
    return 0


def _task_parsers(sub, verb: str, help: str, capability: str | None, build) -> None:
    """``edgeward VERB TASK ...``: a sub-command per registered task (those offering ``capability``)."""
    from edgeward.core.registry import get_task, task_names

    parser = sub.add_parser(verb, help=help, description=help)
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in task_names():
        spec = get_task(name)
        if capability is None or spec.offers(capability):
            p = tasks.add_parser(name, help=spec.title, description=f"{help}: {spec.title.lower()}")
            build(p, spec)
            p.set_defaults(spec=spec)


def device_flags(parser: argparse.ArgumentParser, role: str = "the device profile", threads: bool = True) -> None:
    """``--device`` (and ``--threads``), as every verb that runs or checks a model takes them."""
    parser.add_argument("--device", default="auto", help=f"{role}: a name from `edgeward devices list`, a profile "
                        ".toml, or auto (this host)")
    if threads:
        parser.add_argument("--threads", type=int, help="inference threads (default: the device profile's; 0 there "
                            "means all cores)")


def parser() -> argparse.ArgumentParser:
    from edgeward.app.batch_bench import BatchBenchOptions
    from edgeward.app.demo import DemoOptions
    from edgeward.app.flags import add_flags
    from edgeward.app.serve_bench import ServeBenchOptions
    from edgeward.core.registry import get_task, tasks_that
    from edgeward.export.bench import BenchOptions
    from edgeward.export.triton import TritonOptions
    from edgeward.runtime.registry import Feed, fed, options_types, serve_routes
    from edgeward.runtime.services.batch import BatchOptions
    from edgeward.runtime.services.serve.options import ServeOptions
    from edgeward.train.adopt import AdoptOptions
    from edgeward.train.compress import CompressConfig

    p = argparse.ArgumentParser(prog="edgeward", description="Take Keras models to devices.")
    sub = p.add_subparsers(dest="verb", required=True)

    def data(parser, spec):
        parser.add_argument("out", help=spec.data_help)
        add_flags(parser, spec.data_config)
        parser.set_defaults(fn=cmd_data)

    _task_parsers(sub, "data", "generate a dataset", "generate", data)

    def train(parser, spec):
        parser.add_argument("--data", required=True, help="the dataset (a file or folder in a standard layout)")
        parser.add_argument("--out", required=True, help="run directory to write")
        add_flags(parser, spec.train_config)
        parser.set_defaults(fn=cmd_train)

    _task_parsers(sub, "train", "train a model on a dataset", "train", train)

    c = sub.add_parser("compress", help="prune and/or quantization-aware train a run's model (tf_keras)")
    c.add_argument("run", help="training run directory")
    add_flags(c, CompressConfig)
    c.set_defaults(fn=cmd_compress)

    e = sub.add_parser("export", help="export a run, or a Keras model of yours (--model), to ONNX/TFLite artifacts, each "
                                      "checked against Keras")
    e.add_argument("run", nargs="?", help="training run directory (or --model MODEL --out RUN)")
    e.add_argument("--model", help="a Keras model of yours (.keras, .h5, SavedModel folder): adopted into the run --out, "
                                   "then every artifact it allows (unless --format/--precision say which)")
    e.add_argument("--out", help="with --model: the run directory to make")
    add_flags(e, AdoptOptions)
    e.add_argument("--format", choices=["onnx", "tflite", "all"], help="default: onnx (with --model: all)")
    e.add_argument("--precision", help="fp32, fp16, int8, int8-dynamic (TFLite), comma-separated (default: fp32; "
                                       "with --model: all)")
    e.add_argument("--source", default="base", choices=["base", "pruned", "qat", "pruned-qat"],
                   help="which Keras model: the trained one, or one made by `compress`")
    e.add_argument("--all", action="store_true", help="every format and precision from every model the run has")
    e.add_argument("--calibration-method", default="minmax", choices=["minmax", "entropy", "percentile"],
                   help="ONNX int8 calibration")
    e.add_argument("--per-tensor", action="store_true", help="ONNX int8: per-tensor weights (default per-channel)")
    e.add_argument("--int8-io", action="store_true", help="TFLite int8: int8 input and output tensors")
    e.add_argument("--max-drop", type=float, help="int8: try candidates until the metric drop is <= this many points "
                                                   "(with --model: 1 unless given)")
    e.add_argument("--tolerance", type=float, default=1e-5, help="fp32: max abs diff allowed against Keras")
    device_flags(e, "the target device profile, where artifacts are checked and timed", threads=False)
    e.add_argument("--targets", metavar="CLASSES", help="CPU classes int8 files are made for and checked on, emulated "
                   "where this host is not one: avx2 (x86 without VNNI), vnni, arm64, comma-separated (default: the "
                   "device profile's, those this host can check)")
    e.add_argument("--sign", metavar="KEY", help="a private key (edgeward keys NAME): each artifact gets a detached "
                   "signature FILE.sig that `verify --key` checks")
    e.set_defaults(fn=cmd_export)

    rows, images = ", ".join(fed(Feed.ROWS)), ", ".join(fed(Feed.IMAGES))  # the tasks whose runtimes take them
    s = sub.add_parser("score", help=f"score a CSV file of rows with a model ({rows})")
    s.add_argument("model", help=f"an exported model file of a task that takes rows ({rows}), or a released name "
                   "(edgeward models list)")
    s.add_argument("--input", required=True, help="the CSV of rows to score (a header row naming the model's features; "
                   "a named pipe works too)")
    s.add_argument("--out", required=True, help="the scores CSV to write (written as OUT.partial, moved into place when "
                   "complete)")
    s.add_argument("--rejects", help="rejects CSV (default: OUT with .rejects.csv)")
    s.add_argument("--threshold", type=float, help="override the model's decision threshold")
    device_flags(s)
    s.set_defaults(fn=cmd_score)

    bt = sub.add_parser("batch", help=f"score CSV/Parquet rows ({rows}) or image folders ({images}) into Parquet, "
                                      "in this process or on a Ray cluster")
    bt.add_argument("model", help=f"an exported model of a task that takes rows ({rows}) or images ({images}), or a "
                    "released name")
    bt.add_argument("--input", required=True, help="a CSV or Parquet file, a glob of them, or an image folder")
    bt.add_argument("--output", required=True, help="the output folder (scores/, rejects/, summary.json)")
    add_flags(bt, BatchOptions)
    bt.set_defaults(fn=cmd_batch)

    bb = sub.add_parser("bench-batch", help="batch scoring rows/s: in this process and on Ray clusters of 1, 2 and 3 "
                                            "nodes on this machine")
    bb.add_argument("run", help=f"an exported run of a task that takes rows ({rows}); its data repeated is the input")
    add_flags(bb, BatchBenchOptions)
    bb.set_defaults(fn=cmd_bench_batch)

    tr = sub.add_parser("triton", help="a Triton model repository of exported ONNX models")
    tr.add_argument("repo", help="the repository folder to write")
    tr.add_argument("models", nargs="+", metavar="MODEL", help="an exported ONNX file, or NAME=FILE")
    add_flags(tr, TritonOptions)
    tr.set_defaults(fn=cmd_triton)

    routes = ", ".join(f"/{task}/{path}" for task, path, _ in serve_routes())
    sv = sub.add_parser("serve", help=f"serve models over HTTP: KServe v2 (as Triton), the tasks' routes ({routes}), "
                                      "/metrics")
    sv.add_argument("models", nargs="+", metavar="MODEL", help="an exported model file, NAME=FILE, or a Triton repository")
    add_flags(sv, ServeOptions)
    for kind in options_types(Feed.VIDEO, Feed.AUDIO):  # the options of the live sources' runtimes
        add_flags(sv, kind)
    sv.set_defaults(fn=cmd_serve)

    bs = sub.add_parser("bench-serve", help=f"a served model under load: its task's route ({routes}) beside "
                                            "in-process, KServe v2 infer over HTTP and gRPC (edgeward serve)")
    bs.add_argument("model", metavar="MODEL", help="an exported run folder (its held-out inputs are the requests), a "
                    "model file or a released model's name (inputs drawn at random)")
    add_flags(bs, ServeBenchOptions)
    bs.set_defaults(fn=cmd_bench_serve)

    b = sub.add_parser("bench", help="benchmark every artifact of a run, and the task's own measurements")
    b.add_argument("run", help="an exported run directory (edgeward export RUN first)")
    device_flags(b, "the device profile the artifacts are timed with (providers, threads)", threads=False)
    b.add_argument("--no-keras", action="store_true", help="skip the runtime-vs-Keras comparison")
    b.add_argument("--heldout", action="append", default=[], metavar="DIR",
                   help="held-out data to measure on as well (a task's `data TASK --eval-only` folder); repeatable")
    b.add_argument("--target", metavar="CLASSES", help="measure the int8 files again on these CPU classes (avx2, vnni, "
                   "arm64; emulated where this host is not one) beside this host: metric, drop and agreement per class")
    b.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    add_flags(b, BenchOptions)
    b.set_defaults(fn=cmd_bench)

    f = sub.add_parser("verify", help="check model files against the hash their manifest records at export (intact), "
                                      "and with --key their signature (who made them)")
    f.add_argument("models", nargs="+", metavar="MODEL", help="model files (.onnx, .tflite)")
    f.add_argument("--key", metavar="PUB", help="a public key (NAME.pub from edgeward keys): each MODEL must carry "
                   "MODEL.sig made by its private key")
    f.set_defaults(fn=cmd_verify)

    k = sub.add_parser("keys", help="make an Ed25519 key pair to sign artifacts: NAME.key (private), NAME.pub")
    k.add_argument("name", help="the pair's path without suffix (e.g. keys/release)")
    k.set_defaults(fn=cmd_keys)

    sg = sub.add_parser("sign", help="sign model files with a private key: a detached MODEL.sig beside each")
    sg.add_argument("models", nargs="+", metavar="MODEL", help="model files (.onnx, .tflite)")
    sg.add_argument("--key", required=True, metavar="KEY", help="the private key (NAME.key from edgeward keys)")
    sg.set_defaults(fn=cmd_sign)

    v = sub.add_parser("devices", help="device profiles and this host")
    v.add_argument("action", choices=["list", "show", "host"], help="list: every profile; show NAME: one profile's "
                   "fields; host: this host, its CPU class and the profile it gets")
    v.add_argument("name", nargs="?", help="show: a profile name or a profile .toml file")
    v.set_defaults(fn=cmd_devices)

    def run(parser, spec):
        parser.add_argument("model", nargs="?", help="a model file or a catalogue name (default: the task's released model)")
        parser.add_argument("--model", dest="model_option", metavar="MODEL", help="the same, as an option")
        parser.add_argument("--source", required=True, help=spec.source_help)
        parser.add_argument("--json", action="store_true", help="one JSON object per result")
        device_flags(parser)
        add_flags(parser, spec.run_options)
        parser.set_defaults(fn=cmd_run)

    _task_parsers(sub, "run", "run a model on a live source", "live", run)

    def tune(parser, spec):
        parser.add_argument("run", help="training run directory")
        add_flags(parser, spec.tune_options)
        parser.set_defaults(fn=cmd_tune)

    _task_parsers(sub, "tune", "choose decision thresholds on validation data after training", "tune", tune)

    ms = sub.add_parser("models", help="the released models that ship with edgeward (a name works wherever a model file does)")
    ms.add_argument("action", choices=["list", "path"], help="list: the released models and their numbers; path NAME: "
                    "where a model's file is")
    ms.add_argument("name", nargs="?", help="path: a released model's name")
    ms.add_argument("--file", help="path: which of the model's files (default: the one a device gets by default)")
    ms.set_defaults(fn=cmd_models)

    z = sub.add_parser("zoo", help="the founding article's twelve models: list them, or train, export and check them")
    z.add_argument("action", choices=["list", "check"], help="list: the twelve models; check: train, export and check "
                   "them (the conformance table)")
    z.add_argument("names", nargs="*", metavar="NAME", help="which models (default: all)")
    z.add_argument("--full", action="store_true", help="check: the article's sizes (make zoo), not the tests' small ones")
    z.add_argument("--out", default="runs/zoo", help="check: where the runs go (default: runs/zoo)")
    z.add_argument("--readme", help="check: write the conformance table between the zoo markers of this file")
    z.add_argument("--targets", metavar="CLASSES", help="check: the CPU classes int8 files are checked on (default: "
                   "avx2,vnni,arm64, those this host can check)")
    z.set_defaults(fn=cmd_zoo)

    r = sub.add_parser("report", help="(re)write the HTML report of a run or demo directory")
    r.add_argument("run", help="a run directory, or a folder of runs (a demo's output)")
    r.set_defaults(fn=cmd_report)

    m = sub.add_parser("demo", help="the released models on fresh data, then every task's flow on generated data "
                                    "(quick, or --full), with an HTML report")
    add_flags(m, DemoOptions)
    for name in tasks_that("demo"):
        add_flags(m, get_task(name).demo_config, f"{name}_")
    m.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """The CLI. Exit codes: 0, 2 for bad input, 1 for other edgeward errors, 130 (SIGINT) or 143 (SIGTERM)
    when interrupted; SIGTERM stops a run the way Ctrl-C does, so it cleans up and says what it kept."""
    try:
        with terminate_as_interrupt(), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args = parser().parse_args(argv)
            _not_a_released_name(args)
            return args.fn(args)
    except Interrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return exc.exit_code
    except EdgewardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except BrokenPipeError:  # the reader went away (`edgeward run ... --json | head`): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more is flushed into the closed pipe
        return 141


def _not_a_released_name(args) -> None:
    """A verb that takes a run folder, given a released model's name (and no folder of that name): said in one line."""
    run = getattr(args, "run", None)
    if not isinstance(run, str) or Path(run).exists():
        return
    from edgeward.runtime.engine.catalogue import names

    if run in names():
        raise InputError(f"{run}: a released model, not a run folder; `edgeward {args.verb}` takes a run folder (edgeward "
                         "train, then export); a released model is taken wherever a model file is (run, score, batch, "
                         "serve, triton, verify, bench-serve)")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the CLI's errors are: one line, no source line (the runtime's UncheckedCpuWarning, say)."""
    print(f"warning: {message}", file=sys.stderr if file is None else file, flush=True)


@contextmanager
def terminate_as_interrupt():
    """SIGTERM raises ``Terminated`` (a KeyboardInterrupt) while the block runs, in the main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
