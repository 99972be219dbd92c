"""Voice commands: a DS-CNN on log-mel features, run on audio streams by ``CommandRecognizer``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edgeward.core.manifest import TensorInfo
from edgeward.core.records import BenchRecord
from edgeward.core.rundir import RunDir, TrainingRecord, common_v0
from edgeward.core.task import ModelContract, TaskData, TaskSpec, Toy
from edgeward.runtime.tasks.commands import RecognizerOptions
from edgeward.tasks.commands import bench as own_bench
from edgeward.tasks.commands import demo as own_demo
from edgeward.tasks.commands import release as own_release
from edgeward.tasks.commands import section as own_section
from edgeward.tasks.commands.demo import CommandsDemo
from edgeward.tasks.commands.tune import TuneOptions
from edgeward.train.commands.config import CommandsDataConfig, CommandsPayload, CommandsTrainConfig

CLIP_RULE = "per label: at most 0.2% of other validation clips reach it"


class CommandsTask(TaskSpec):
    name, title = "commands", "Voice commands"
    data_config, train_config, payload_type, demo_config = CommandsDataConfig, CommandsTrainConfig, CommandsPayload, CommandsDemo
    run_options, tune_options = RecognizerOptions, TuneOptions
    data_help = "output folder (Speech Commands layout)"
    source_help = "mic, mic:N (an input device) or a WAV file"
    toy = Toy(data=("--per-class", "16", "--stream-minutes", "0.5", "--val-stream-minutes", "0.25",
                    "--train-stream-minutes", "0.25"),
              train=("--epochs", "3", "--filters", "16", "--blocks", "2"),  # block 1 dilated: exported too
              exports=(("--format", "all", "--precision", "fp32,int8", "--max-drop", "100"),), check_input="stream.wav")

    # the task's own benchmark targets and tables, report section and demo steps
    targets, tables = staticmethod(own_bench.targets), staticmethod(own_bench.tables)
    section, demo = staticmethod(own_section.section), staticmethod(own_demo.steps)
    measure_release, recipes = staticmethod(own_release.measure), staticmethod(own_release.recipes)

    def generate(self, out: Path, config: CommandsDataConfig, progress: bool = False) -> Iterator[str]:
        from edgeward.train.commands.data import generate_commands, write_streams

        s = generate_commands(out, config, progress=progress)
        yield (f"wrote {s['clips']:,} clips ({', '.join(f'{k} {v}' for k, v in s['per_label'].items())}) to {out}; "
               f"{s['engine']} voices train/val/test: {s['voices']['train']}/{s['voices']['val']}/{s['voices']['test']}")
        yield (f"_unknown_ draws {s['unknown_words']} general English words; left out as too close to a command: "
               f"{', '.join(s['left_out']) or 'none'}")
        for w in write_streams(out, config.seed, config.stream_lengths(), progress=progress, engine=config.engine,
                               voice_seed=config.voice_seed):
            yield (f"wrote {w['wav']} ({w['seconds'] / 60:.1f} min, {w['split']} voices, {w['commands']} commands, "
                   f"{w['words']} words at {w['snr_db'][0]:g} to {w['snr_db'][1]:g} dB) and {w['csv']}")

    def train(self, data: Path, out: Path, config: CommandsTrainConfig, progress: bool = False) -> TrainingRecord:
        from edgeward.train.commands.training import train_commands

        return train_commands(data, out, config, progress)

    def describe(self, record: TrainingRecord) -> list[str]:
        split = record.data.split
        return [f"trained on {split['train']:,} clips, {record.epochs_run} epochs, {record.train_seconds} s; accuracy on "
                f"held-out voices {record.metrics['model']['accuracy']:.2%} ({split['test']:,} clips)"]

    def splits(self, run: RunDir, record: TrainingRecord, train_sample: int | None = None) -> TaskData:
        from edgeward.train.commands.training import commands_splits

        return commands_splits(run, record, train_sample)

    def contract(self, run: RunDir, record: TrainingRecord) -> ModelContract:
        """The thresholds are those ``tune`` chose on the validation stream, where it ran; else the clips' own."""
        from edgeward.runtime.io.audio_features import FrontEnd
        from edgeward.train.commands.training import INPUT_NAME
        from edgeward.train.metrics import accuracy

        fe = FrontEnd.from_dict(record.payload.front_end, str(run))
        tuning = run.read_json(run.tuning_file)
        rule = CLIP_RULE + (f"; floor {tuning['floor']} chosen on the validation stream" if tuning else "")
        return ModelContract(
            inputs=(TensorInfo(INPUT_NAME, (None, *fe.shape), "float32", fe.layout,
                               "log-mel by params.front_end, normalised with its mean and std"),),
            output=TensorInfo("", (None, len(record.labels)), "float32", "NC", "class probabilities"),
            labels=tuple(record.labels), thresholds=dict(tuning["thresholds"] if tuning else record.thresholds),
            params={"front_end": record.payload.front_end, "threshold_rule": rule},
            metric=accuracy, decide=lambda out: np.asarray(out).argmax(axis=-1))

    def upgrade_record(self, raw: dict, source: str) -> dict:
        # an unversioned record held the thresholds `tune` chose (if it ran) in place of the clips' own
        return {**common_v0(raw), "thresholds": raw["thresholds"],
                "payload": {"front_end": raw["front_end"], "confusion": raw["confusion"],
                            "backgrounds": raw["data"].get("backgrounds", 0)}}

    def live(self, model: str, source: str, options: RecognizerOptions, device: str, threads: int | None, emit, note) -> None:
        from edgeward.runtime.io.audio_sources import open_source
        from edgeward.runtime.tasks.commands import CommandRecognizer

        with CommandRecognizer.from_file(model, device=device, threads=threads, options=options) as rec, \
                open_source(source) as audio:
            try:
                for event in rec.stream(audio):
                    emit({"label": event.label, "score": event.score, "start": event.start, "end": event.end})
            finally:
                overflows = getattr(audio, "overflows", 0)
                if overflows or getattr(audio, "dropped", 0):
                    note(f"audio input overflows: {overflows}, blocks dropped: {audio.dropped}")

    def result_text(self, result: dict) -> str:
        return f"{result['start']:9.2f}-{result['end']:7.2f} s  {result['label']:6s} {result['score']:.2f}"

    def tune(self, run: RunDir, options: TuneOptions) -> list[str]:
        from edgeward.tasks.commands.stream_score import background_text, counts_text, snr_text
        from edgeward.tasks.commands.tune import tune_thresholds

        result = tune_thresholds(run.path, options)
        lines = [f"floor {row['floor']:.2f}: {row['detection_rate']:.1%} of {row['commands']} commands, "
                 f"{row['false_alarms']} false alarms ({row['false_alarms_per_hour']:.1f} per hour)" for row in result["tried"]]
        chosen = result["chosen"]
        return lines + [
            f"chose floor {result['floor']:.2f} on the validation stream: {result['reason']}; thresholds written to "
            f"{run.tuning_file} (export again to embed them)",
            f"at that floor, missed: {counts_text(chosen['missed'])}; false alarms: {counts_text(chosen['false_alarm_causes'])}; "
            f"detected by background: {background_text(chosen['by_background'])}; by SNR: {snr_text(chosen['by_snr'])}"]

    def bench(self, run: RunDir, record: TrainingRecord, result: BenchRecord, options, runnable: set[str], tick) -> None:
        """The recognizer over the test voices' stream (fp32 and int8 ONNX), over the training voices' and the
        stress stream where the data has them, and on each held-out folder of ``options.heldout``."""
        from edgeward.train.commands.data import stream_files

        fp32 = run.artifact("model.onnx")
        test_wav, test_csv = stream_files(record.data.path, "test")
        if test_wav.exists():
            result.payload["streams"] = [own_bench.bench_stream(run.artifact(name), test_wav, test_csv,
                                              run / own_section.EVENTS_FILE if name == "model.onnx" else None)
                                 for name in ("model.onnx", "model-int8.onnx") if run.artifact(name).exists()]
        train_wav, train_csv = stream_files(record.data.path, "train")
        if train_wav.exists() and fp32.exists():  # the same model on voices it trained on
            result.payload["train_stream"] = own_bench.bench_stream(fp32, train_wav, train_csv)
        if options.heldout:  # data no model trains on: the test half of each folder
            from edgeward.tasks.commands.heldout import measure

            files = [run.artifact(name) for name in ("model.onnx", "model-int8.onnx") if run.artifact(name).exists()]
            result.payload["heldout"] = [measure(files, Path(folder)) for folder in options.heldout]
        stress_wav, stress_csv = stream_files(record.data.path, "stress")
        if stress_wav.exists() and fp32.exists():  # test voices beyond the clips' SNR range
            result.payload["stress_stream"] = own_bench.bench_stream(fp32, stress_wav, stress_csv)
