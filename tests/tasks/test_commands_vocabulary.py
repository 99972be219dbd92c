"""Voice commands in any words: a vocabulary the user chooses, its `_unknown_` words, phrases that must fit
the window, labels carried from the data to the recognizer; and festival, the held-out speech engine."""

from __future__ import annotations

import re

import pytest

from edgeward.app.cli import main
from edgeward.core.errors import InputError
from edgeward.train.commands.vocabulary import (
    SPEECH_COMMANDS,
    edit_distance,
    general_words,
    read_commands,
    slowest_speeds,
    vocabulary,
)
from edgeward.train.commands.voices import espeak_available, festival_available

pytestmark = [pytest.mark.full,  # models trained until they hear their words: `make test-full`
              pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make install adds it)")]
PHRASES = ("lights on", "lights off", "open")


def test_edit_distance_counts_insertions_deletions_and_substitutions():
    assert edit_distance(("g", "oU"), ("g", "oU", "z")) == 1
    assert edit_distance(("n", "oU"), ("g", "oU")) == 1
    assert edit_distance(("j", "E", "s"), ()) == 3
    assert edit_distance(("a", "b", "c"), ("c", "b", "a")) == 2


def test_unknown_words_leave_out_those_one_sound_from_a_command_or_a_word_of_a_phrase():
    v = vocabulary(PHRASES)
    assert v.labels == PHRASES + ("_unknown_", "_silence_")
    assert "light" in v.excluded  # "lights" less one sound
    assert "ocean" in v.excluded  # "open" with one sound changed
    assert "window" in v.unknown and "light" not in v.unknown
    assert set(v.unknown) | set(v.excluded) == set(general_words()) and len(v.unknown) > 300
    ten = vocabulary(SPEECH_COMMANDS)
    assert {"new", "snow", "write", "cup"} <= set(ten.excluded)  # no, no, right, up
    assert not set(ten.unknown) & set(SPEECH_COMMANDS)


@pytest.mark.parametrize("words, message", [
    (("no", "know"), "'no' and 'know' sound the same"),
    (("Lights",), "expected words or phrases of lower-case letters"),
    (("open", "open"), "expected each command once, got 'open' more than once"),
    (("go", "stop  now"), "got 'stop  now'"),
])
def test_a_vocabulary_that_cannot_be_learned_is_refused(words, message):
    with pytest.raises(InputError, match=message):
        vocabulary(words)


def test_a_phrase_longer_than_the_window_is_refused_with_its_spoken_length(tmp_path, capsys):
    long = "please turn all of the lights in the kitchen on"
    expected = rf"'{long}' lasts \d\.\d\d s spoken at 165 words a minute .* longer than the 1 s window"
    with pytest.raises(InputError, match=expected):
        slowest_speeds((long,), 1.0)
    assert main(["data", "commands", str(tmp_path / "d"), "--words", f"open,{long}", "--per-class", "1"]) == 2
    assert "longer than the 1 s window" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything was written
    speeds = slowest_speeds(PHRASES, 1.0)
    assert speeds["open"] == 120 and 120 < speeds["lights on"] < 210  # a phrase is spoken no slower than fits


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    """The custom flow as the README gives it: data, train, tune, export; a tiny model on three phrases."""
    from edgeward.train.commands.data import write_stream

    root = tmp_path_factory.mktemp("phrases")
    data, run = root / "data", root / "run"
    assert main(["data", "commands", str(data), "--words", ",".join(PHRASES), "--per-class", "200", "--stream-minutes", "0",
                 "--val-stream-minutes", "0"]) == 0
    # clean streams (20-30 dB): this is about the flow and the labels, not about noise
    write_stream(data / "val_stream.wav", data / "val_stream.csv", minutes=2, seed=8, split="val", commands=PHRASES,
                 snr_db=(20, 30))
    write_stream(data / "stream.wav", data / "stream.csv", minutes=2, seed=7, split="test", commands=PHRASES, snr_db=(20, 30))
    # a tiny model's scores spread wide: thresholds that 2% of the other validation clips reach, not 0.2%
    assert main(["train", "commands", "--data", str(data), "--out", str(run), "--epochs", "40", "--filters", "32",
                 "--blocks", "3", "--false-accept", "0.02"]) == 0
    assert main(["tune", "commands", str(run)]) == 0
    assert main(["export", str(run), "--format", "onnx", "--precision", "fp32", "--max-drop", "100"]) == 0
    return data, run


def test_a_three_phrase_model_finds_its_phrases_in_a_stream(phrases, capsys):
    from edgeward.runtime.tasks.commands import CommandRecognizer
    from edgeward.tasks.commands.stream_score import read_truth, score_events

    data, run = phrases
    assert read_commands(data) == PHRASES and (data / "lights_on").is_dir() and (data / "lights_off").is_dir()
    model = run / "artifacts" / "model.onnx"
    with CommandRecognizer.from_file(model) as rec:
        assert rec.labels == PHRASES + ("_unknown_", "_silence_")  # from the data, through the manifest
    capsys.readouterr()
    assert main(["run", "commands", str(model), "--source", str(data / "stream.wav"), "--json"]) == 0
    import json

    from edgeward.runtime.tasks.commands import Event

    events = [Event(**{k: e[k] for k in ("label", "score", "start", "end")})
              for e in map(json.loads, capsys.readouterr().out.splitlines())]
    score = score_events(events, read_truth(data / "stream.csv"), 120.0)
    said = {w.label for w in read_truth(data / "stream.csv")} - {"_unknown_"}
    assert said == set(PHRASES)
    assert score.detection_rate >= 0.6, (score.detected, score.commands, score.missed)
    assert score.false_alarms <= 2, score.false_alarm_causes
    assert {e.label for e in events} <= set(PHRASES)


def test_training_refuses_a_command_with_no_clips(phrases, tmp_path, capsys):
    data, _ = phrases
    assert main(["train", "commands", "--data", str(data), "--out", str(tmp_path / "r"), "--words", "open,close",
                 "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {data}: expected training clips of every command, got none of "
                                               "'close' (its folder: close/)")


def test_the_stream_says_every_word_within_its_snr_range(tmp_path):
    from edgeward.tasks.commands.stream_score import read_truth
    from edgeward.train.commands.data import write_stream

    for snr in ((5.0, 30.0), (-6.0, 34.0)):
        write_stream(tmp_path / "s.wav", tmp_path / "s.csv", minutes=2, seed=1, commands=PHRASES, snr_db=snr)
        levels = [w.snr_db for w in read_truth(tmp_path / "s.csv")]
        assert len(levels) > 20 and snr[0] <= min(levels) and max(levels) <= snr[1]
        assert max(levels) - min(levels) > 0.6 * (snr[1] - snr[0])  # spread over the range, not bunched


@pytest.mark.skipif(not festival_available(), reason="festival is not installed (make install adds it)")
def test_festival_is_held_out_evaluation_data_in_two_halves_by_speaker(tmp_path, capsys):
    from edgeward.train.commands.voices import FESTIVAL_VOICES

    out = tmp_path / "festival"
    assert main(["data", "commands", str(out), "--engine", "festival", "--per-class", "2"]) == 2
    assert "festival with --eval-only (festival is held out: never trained on), got 'festival'" in capsys.readouterr().err
    assert main(["data", "commands", str(out), "--engine", "festival", "--eval-only", "--words", "open,close",
                 "--per-class", "2", "--stream-minutes", "0.2", "--val-stream-minutes", "0.2"]) == 0
    names = {p.name for p in out.glob("*/*.wav")}
    assert not any("_nohash_train" in n or "fragment" in n for n in names)  # nothing to train on
    halves = {k: set((out / f).read_text().split()) for k, f in (("val", "validation_list.txt"), ("test", "testing_list.txt"))}
    for half, voices in FESTIVAL_VOICES.items():
        speakers = {n.split("/")[1].split("_nohash_")[0] for n in halves[half] if not n.startswith("_silence_")}
        assert speakers and speakers <= {f"festival-{v}" for v in voices}, half
    assert len(halves["test"]) == len(halves["val"]) == 2 * 5  # in each half: 2 per command and silence, 4 unknown
    assert (out / "stream.wav").exists() and (out / "val_stream.wav").exists()


@pytest.mark.skipif(not festival_available(), reason="festival is not installed (make install adds it)")
def test_bench_measures_the_held_out_half_and_tune_chooses_on_the_other(phrases, tmp_path):
    from edgeward.tasks.commands import bench as own_bench
    from edgeward.tasks.commands.heldout import measure

    data, run = phrases
    held = tmp_path / "held"
    assert main(["data", "commands", str(held), "--engine", "festival", "--eval-only", "--words", ",".join(PHRASES),
                 "--per-class", "3", "--stream-minutes", "0.3", "--val-stream-minutes", "0.3"]) == 0
    result = measure([run / "artifacts" / "model.onnx"], held)
    (clips,) = result["clips"]
    assert clips["clips"] == 3 * 5 + 3 and 0 <= clips["accuracy"] <= 1  # three phrases, unknown twice, silence
    assert sum(n for _, n in clips["per_label"].values()) == clips["clips"]
    assert result["stream"]["commands"] > 0
    tables = own_bench.stream_tables({"streams": [result["stream"]], "heldout": [result]})
    (title, header, rows), = [t for t in tables if t[0].startswith("Held-out data")]
    assert rows[0][:3] == [str(held), "model.onnx", f"{clips['accuracy']:.1%} of {clips['clips']}"]
    assert main(["tune", "commands", str(run), "--data", str(held)]) == 0  # the choosing half's stream
    ten = tmp_path / "ten"  # festival data of other commands than the model's: refused, naming both
    assert main(["data", "commands", str(ten), "--engine", "festival", "--eval-only", "--per-class", "1",
                 "--stream-minutes", "0", "--val-stream-minutes", "0"]) == 0
    expected = f"{ten}: expected the model's commands (lights on, lights off, open), got yes, no, up"
    with pytest.raises(InputError, match=re.escape(expected)):
        measure([run / "artifacts" / "model.onnx"], ten)
    assert main(["tune", "commands", str(run), "--data", str(ten)]) == 2
    with pytest.raises(InputError, match="has no train voices"):
        from edgeward.train.commands.data import write_stream

        write_stream(tmp_path / "x.wav", tmp_path / "x.csv", minutes=0.2, split="train", engine="festival")


def test_held_out_measurement_of_a_missing_folder_is_a_one_line_error(tmp_path):
    from edgeward.tasks.commands.heldout import measure

    expected = r"missing: expected a folder written by `edgeward data commands --eval-only`, got none$"
    with pytest.raises(InputError, match=expected):
        measure([], tmp_path / "missing")
