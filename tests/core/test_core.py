"""The core: the registry of tasks, the run directory and its versioned training record, config checks, and the
CLI flags made from config dataclasses."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from edgeward.app.cli import main
from edgeward.app.flags import add_flags, config_from
from edgeward.core.config import at_least, check, option
from edgeward.core.errors import ConfigError, InputError
from edgeward.core.registry import get_task, task_names, tasks_that
from edgeward.core.rundir import RunDir, TrainingRecord
from edgeward.core.task import TaskSpec

RECORDS = Path(__file__).parents[1] / "data" / "records"  # train.json of the same small runs, before and after versioning


def test_the_registry_knows_each_task_once_and_refuses_an_unknown_one():
    assert task_names() == ("fraud", "commands", "detect", "classify", "generic")
    for name in task_names():
        spec = get_task(name)
        assert isinstance(spec, TaskSpec) and spec.name == name and spec.title
    with pytest.raises(InputError) as refused:
        get_task("poetry")
    assert str(refused.value) == "unknown task 'poetry': expected one of fraud, commands, detect, classify, generic"
    assert tasks_that("live") == ("commands", "detect", "classify") and tasks_that("score_file") == ("fraud",)
    assert tasks_that("tune") == ("commands",) and tasks_that("adopt") == ("classify", "generic")
    # a model brought as it is has no generator, training or demo: those verbs do not list it
    for capability in ("generate", "train", "demo"):
        assert tasks_that(capability) == ("fraud", "commands", "detect", "classify")


def test_every_task_configuration_has_valid_defaults_and_help():
    for name in task_names():
        spec = get_task(name)
        for cls in (spec.data_config, spec.train_config, spec.demo_config, spec.run_options, spec.tune_options):
            if cls is None:
                continue
            cls()  # the defaults pass the config's own checks
            parser = argparse.ArgumentParser()
            add_flags(parser, cls)
            assert all(a.help for a in parser._actions if a.dest != "help"), (name, cls.__name__)


@pytest.mark.parametrize("task", ["fraud", "commands", "detect"])
def test_a_record_written_before_versioning_reads_as_the_current_schema(task, tmp_path):
    """The same small run's record, written by the code before records were versioned and by the code after,
    reads as the same typed record (but for its timings, and the thresholds `tune` once wrote into it)."""
    old, new = _record(task, "v0", tmp_path / "old"), _record(task, "v1", tmp_path / "new")
    assert old.schema == new.schema == 1 and old.task == new.task == task
    assert type(old.payload) is get_task(task).payload_type
    if task == "commands":  # an unversioned record held the tuned thresholds; they are what its export embedded
        assert old.thresholds == json.loads((RECORDS / "commands-v0.json").read_text())["thresholds"]
        old = replace(old, thresholds=new.thresholds)
    # the config once held the training knobs only; how the data was read (now config fields too) is in the payload
    moved = {"fraud": {"label", "time_column", "features", "from_model"}, "commands": set(), "detect": {"images"}}[task]
    assert old.config == {k: new.config[k] for k in old.config} and set(new.config) - set(old.config) == moved
    old = replace(old, config=new.config)
    if task == "fraud":
        old = replace(old, payload=replace(old.payload, baseline_seconds=new.payload.baseline_seconds))
    assert replace(old, train_seconds=0) == replace(new, train_seconds=0)


def _record(task: str, version: str, run: Path) -> TrainingRecord:
    run.mkdir()
    shutil.copyfile(RECORDS / f"{task}-{version}.json", run / "train.json")
    return RunDir(run).record()


def test_a_bad_record_is_a_one_line_error_naming_the_file(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(InputError, match="expected a training run directory with train.json, got none"):
        run.record()
    raw = json.loads((RECORDS / "detect-v1.json").read_text())
    for change, message in ((lambda r: r.update(schema=7), "training record schema 7 is not supported"),
                            (lambda r: r.update(task="poetry"), "unknown task 'poetry'"),
                            (lambda r: r["payload"].pop("per_class"), "payload: field 'per_class' is missing"),
                            (lambda r: r.pop("task"), "expected a training record with a 'task' field")):
        bad = json.loads(json.dumps(raw))
        change(bad)
        run.record_file.write_text(json.dumps(bad))
        with pytest.raises(InputError, match=message):
            run.record()
    run.record_file.write_text("{not json")
    with pytest.raises(InputError, match=r"train.json: not valid JSON"):
        run.record()


def test_a_record_round_trips_through_its_file(tmp_path):
    record = _record("fraud", "v1", tmp_path / "a")
    RunDir(tmp_path / "b").write_record(record)
    assert RunDir(tmp_path / "b").record() == record


@dataclass(frozen=True)
class Shape:
    size: int = option(32, "side")
    hidden: tuple[int, ...] = option((8, 4), "widths")

    def __post_init__(self):
        at_least(self, 1, "size")


@dataclass(frozen=True)
class Toy:
    name: str | None = option(None, "a name")
    rate: float = option(0.5, "a rate")
    snr: tuple[float, float] = option((5.0, 30.0), "low high")
    fast: bool = option(True, "go fast")
    shape: Shape = option(factory=Shape)
    hidden_state: dict | None = option(None, "not a flag", cli=False)

    def __post_init__(self):
        check(self, "rate", 0 < self.rate < 1, "a number between 0 and 1")


def _parse(argv: list[str]) -> Toy:
    parser = argparse.ArgumentParser()
    add_flags(parser, Toy)
    return config_from(parser.parse_args(argv), Toy)


def test_flags_are_made_from_the_fields_and_only_the_given_ones_reach_the_config():
    assert _parse([]) == Toy()
    toy = _parse(["--name", "x", "--rate", "0.25", "--snr", "0", "10", "--no-fast", "--size", "64", "--hidden", "16,8,4"])
    assert toy == Toy(name="x", rate=0.25, snr=(0.0, 10.0), fast=False, shape=Shape(size=64, hidden=(16, 8, 4)))
    with pytest.raises(SystemExit):  # not a flag
        _parse(["--hidden-state", "1"])
    with pytest.raises(ConfigError, match=r"rate \(--rate\): expected a number between 0 and 1, got 2.0"):
        _parse(["--rate", "2"])
    with pytest.raises(ConfigError, match=r"size \(--size\): expected a whole number >= 1, got 0"):
        _parse(["--size", "0"])


def test_cli_gives_each_task_its_own_flags_and_refuses_what_a_task_cannot_do(capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        main(["train", "detect", "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    assert "--size INT" in help_text and "--images IMAGES" in help_text and "--filters" not in help_text
    for argv, choices in ((["run", "fraud", "m.onnx", "--source", "x"], "'fraud' (choose from 'commands', 'detect', 'classify')"),
                          (["train", "poetry", "--data", "d", "--out", "o"], "'poetry' (choose from 'fraud', 'commands', 'detect', 'classify')")):
        with pytest.raises(SystemExit) as done:  # argparse's usage error
            main(argv)
        assert done.value.code == 2 and f"invalid choice: {choices}" in capsys.readouterr().err
    assert main(["train", "fraud", "--data", "d", "--out", str(tmp_path / "o"), "--hidden", "16,0"]) == 2
    assert capsys.readouterr().err.strip() == "error: hidden (--hidden): expected one or more whole numbers >= 1, got (16, 0)"
    assert not (tmp_path / "o").exists()


def test_every_argument_of_every_verb_explains_itself():
    """`--help` of every verb (and every task under `data`, `train`, `run`, `tune`) says what each argument is."""
    from edgeward.app.cli import parser

    def walk(p, path):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction):
                yield path, "/".join(action.option_strings) or action.dest, action.help

    missing = [f"{path}: {arg}" for path, arg, text in walk(parser(), "edgeward") if not text]
    assert missing == []


def test_flags_replace_only_the_fields_given_onto_a_base():
    """`edgeward demo` starts from the tier's sizes (a config's quick() ones) and changes the fields given."""
    import argparse

    from edgeward.app.flags import add_flags, config_from
    from edgeward.tasks.detect.demo import DetectDemo

    parser = argparse.ArgumentParser()
    add_flags(parser, DetectDemo, "detect_")
    quick = DetectDemo.quick()
    assert config_from(parser.parse_args(["--detect-epochs", "3"]), DetectDemo, "detect_", base=quick) == \
        DetectDemo(images=quick.images, epochs=3, size=quick.size)
    assert config_from(parser.parse_args([]), DetectDemo, "detect_", base=quick) == quick
    assert config_from(parser.parse_args([]), DetectDemo, "detect_") == DetectDemo()

