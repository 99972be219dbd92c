"""Waveform augmentations and accents for the commands model (issue 26 round 2): each does what a room, a
microphone, a phone line, an input gain or another speaker does, and training applies the ones asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import ConfigError
from edgeward.tasks.commands.ablation import HELPS, HURTS, kept
from edgeward.train.commands import augment as aug
from edgeward.train.commands.config import CommandsDataConfig, CommandsTrainConfig, Engine
from edgeward.train.commands.data import espeak_available

RATE = 16_000


def _tone_burst(freqs=(200.0, 1000.0, 5000.0), n: int = RATE) -> np.ndarray:
    """0.3 s of three tones in the middle of a 1 s clip, silence around."""
    t = np.arange(n) / RATE
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    gate = (t > 0.35) & (t < 0.65)
    return (0.5 * x * gate).astype(np.float32)[None, :]


def _band_energy(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / RATE)
    return float(spectrum[..., (freqs >= low) & (freqs < high)].sum())


def test_reverb_leaves_a_room_tail_after_the_sound_stops():
    rng = np.random.default_rng(0)
    x = _tone_burst()
    rooms = aug.room_impulses(3, rng)
    assert all(abs((h ** 2).sum() - 1) < 1e-3 for h in rooms)
    y = aug.reverb(x, rooms, rng)
    after = slice(int(0.66 * RATE), int(0.8 * RATE))
    assert (x[0, after] ** 2).sum() == 0 and (y[0, after] ** 2).sum() > 1e-4  # the room rings on
    assert np.sqrt((y ** 2).mean()) == pytest.approx(np.sqrt((x ** 2).mean()), rel=1e-3)  # at the clip's own level


def test_a_phone_line_keeps_the_voice_band_and_drops_the_rest():
    rng = np.random.default_rng(1)
    x = np.repeat(_tone_burst(), 64, axis=0)
    y = aug.codec(x, rng)
    # the clips drawn as a phone line (3.4 kHz) lose the 5 kHz tone and the 200 Hz one; all keep 1 kHz
    lost_high = [_band_energy(y[i], 4900, 5100) < 0.01 * _band_energy(x[i], 4900, 5100) for i in range(len(y))]
    assert any(lost_high) and not all(lost_high)
    for i in range(len(y)):
        assert _band_energy(y[i], 950, 1050) > 0.05 * _band_energy(x[i], 950, 1050)  # at 0.3-1 of its level: >= 0.09
    levels = np.unique(np.round(np.abs(y[0]) / (np.abs(y[0]).max() + 1e-12), 4))
    assert len(levels) <= 129  # 8-bit mu-law: at most 128 magnitudes (and zero)


def test_a_microphone_response_rolls_off_the_bass_and_keeps_the_level():
    rng = np.random.default_rng(2)
    x = _tone_burst((50.0, 1000.0))
    y = aug.response(np.repeat(x, 32, axis=0), rng)
    ratio = [_band_energy(y[i], 40, 60) / _band_energy(y[i], 900, 1100) for i in range(len(y))]
    assert np.median(ratio) < 0.5 * _band_energy(x, 40, 60) / _band_energy(x, 900, 1100)
    assert np.allclose(np.sqrt((y ** 2).mean(1)), np.sqrt((x ** 2).mean()), rtol=1e-3)


def test_level_makes_clips_quieter_or_clips_them_at_full_scale():
    rng = np.random.default_rng(3)
    y = aug.level(np.repeat(_tone_burst(), 200, axis=0), rng)
    peaks = np.abs(y).max(1)
    assert peaks.min() < 0.05 and (peaks == 1.0).sum() > 20  # far quieter, and clipped
    assert np.abs(y).max() <= 1.0


def test_speed_scales_time_and_frequency_together():
    rng = np.random.default_rng(4)
    x = _tone_burst((1000.0,))
    y = aug.speed(np.repeat(x, 50, axis=0), rng)
    for clip in y:
        spectrum = np.abs(np.fft.rfft(clip))
        peak = np.fft.rfftfreq(RATE, 1 / RATE)[spectrum.argmax()]
        burst = np.flatnonzero(np.abs(clip) > 0.05)
        length = (burst[-1] - burst[0]) / RATE
        factor = peak / 1000.0  # faster means higher and shorter, by the same factor
        assert 0.84 < factor < 1.16
        assert length * factor == pytest.approx(0.3, abs=0.01)


def test_the_augmenter_touches_only_its_share_and_keeps_shape_and_range():
    rng = np.random.default_rng(5)
    x = np.repeat(_tone_burst(), 100, axis=0)
    assert np.array_equal(aug.Augmenter(("level", "speed"), 0.0)(x, rng), x)
    y = aug.Augmenter(("speed", "response", "codec", "level"), 0.5)(x, rng)
    changed = ~np.all(np.isclose(y, x), axis=1)
    assert y.shape == x.shape and np.abs(y).max() <= 1 and 70 < changed.sum() < 100  # 1 - 0.5^4 of them
    assert aug.Augmenter(("level", "speed", "reverb"), 0.5, rooms=2).kinds == (aug.Augmentation.SPEED, aug.Augmentation.REVERB,
                                                                               aug.Augmentation.LEVEL)


def test_an_unknown_augmentation_or_share_is_refused_in_one_line(capsys):
    with pytest.raises(ConfigError, match=r"augment \(--augment\): expected augmentations among reverb, response"):
        CommandsTrainConfig(augment=("reverb", "echo"))
    with pytest.raises(ConfigError, match="augment_share"):
        CommandsTrainConfig(augment_share=1.5)
    with pytest.raises(ConfigError, match="accents"):
        CommandsDataConfig(engine=Engine.FESTIVAL, eval_only=True, accents=0.2)
    assert main(["train", "commands", "--data", "nowhere", "--out", "x", "--augment", "reverb,echo"]) == 2
    assert "expected augmentations among" in capsys.readouterr().err


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make install adds it)")
def test_accents_speak_only_training_clips_in_other_languages_voices(tmp_path):
    from edgeward.train.commands.data import generate_commands
    from edgeward.train.commands.voices import ACCENTS

    out = tmp_path / "data"
    generate_commands(out, CommandsDataConfig(words=("open", "close"), per_class=4, stream_minutes=0, accents=1.0, fragments=0))
    held = set((out / "validation_list.txt").read_text().split()) | set((out / "testing_list.txt").read_text().split())
    clips = [f"{p.parent.name}/{p.name}" for p in out.glob("*/*.wav") if p.parent.name != "_silence_"]
    train = [c for c in clips if c not in held]
    assert train and all(c.split("/")[1].split("-")[0] in ACCENTS for c in train)
    assert all(c.split("/")[1].startswith("en") for c in clips if c in held)


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make install adds it)")
def test_training_augments_each_batch_and_records_what_it_used(commands_data, tmp_path, monkeypatch):
    from edgeward.train.commands.training import train_commands

    calls = []
    real = aug.Augmenter.__call__

    def spy(self, audio, rng):  # the real augmenter, counted
        out = real(self, audio, rng)
        calls.append((len(audio), float(np.abs(out - audio).max())))
        return out

    monkeypatch.setattr(aug.Augmenter, "__call__", spy)
    record = train_commands(commands_data, tmp_path / "run",
                            CommandsTrainConfig(epochs=1, filters=8, blocks=1, augment=("level", "codec"), augment_share=1.0))
    assert calls and all(changed > 0 for _, changed in calls)
    # every training clip once in the epoch (Keras also reads the first batch once more, to learn its shapes)
    assert record.data.split["train"] <= sum(n for n, _ in calls) <= record.data.split["train"] + 64
    saved = json.loads((tmp_path / "run" / "train.json").read_text())["config"]
    assert saved["augment"] == ["level", "codec"] and saved["augment_share"] == 1.0


def test_kept_means_helps_on_the_choosing_half_without_hurting_the_test_voices():
    rows = [{"condition": "none", "espeak_test": 90.0, "festival_choosing": 30.0},
            {"condition": "reverb", "espeak_test": 90.5, "festival_choosing": 30.0 + HELPS},
            {"condition": "codec", "espeak_test": 90.0 - HURTS - 0.1, "festival_choosing": 40.0},
            {"condition": "speed", "espeak_test": 89.5, "festival_choosing": 31.0}]
    assert [r["condition"] for r in kept(rows)] == ["reverb"]
