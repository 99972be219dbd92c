"""The runtime's audio: WAV files, resampling, the log-mel front end and the microphone source.

The microphone is the hardware edge: it is tested with a fake sounddevice module standing in for
PortAudio, plus a smoke test of the real PortAudio input where this machine has one.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hardware import FakeSoundDevice

from edgeward.core.errors import DeviceError, InputError
from edgeward.runtime.io.audio_features import FrontEnd
from edgeward.runtime.io.audio_io import Resampler, read_wav, resample, write_wav
from edgeward.runtime.io.audio_sources import MicSource, WavSource, input_devices


def _wav(path, samples: np.ndarray, rate: int, fmt: int, bits: int):
    channels = samples.shape[1] if samples.ndim == 2 else 1
    if fmt == 3:
        payload = samples.astype("<f4").tobytes()
    elif bits == 24:
        v = (np.clip(samples, -1, 1) * (2 ** 23 - 1)).astype(np.int32).reshape(-1)
        payload = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
    else:
        payload = (np.clip(samples, -1, 1) * (2 ** (bits - 1) - 1)).astype(f"<i{bits // 8}").tobytes()
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack("<I", len(payload)) + payload
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("fmt, bits", [(1, 16), (1, 24), (1, 32), (3, 32)])
def test_wav_formats_and_stereo_mix_down(tmp_path, fmt, bits):
    t = np.arange(4410) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)], axis=1).astype(np.float32)
    x, rate = read_wav(_wav(tmp_path / "a.wav", stereo, 44100, fmt, bits))
    assert rate == 44100 and x.shape == (4410, 2)
    np.testing.assert_allclose(x, stereo, atol=1e-3)
    block, block_rate = next(iter(WavSource(tmp_path / "a.wav")))
    assert block_rate == 44100 and block.ndim == 1 and len(block) == 4410


def test_a_file_that_is_not_audio_is_a_clear_error(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("not audio at all")
    with pytest.raises(InputError, match=r"notes.wav: expected a WAV file \(RIFF/WAVE header\), got b'not audio at'"):
        read_wav(p)
    with pytest.raises(InputError, match="missing.wav: audio file not found"):
        read_wav(tmp_path / "missing.wav")


def test_write_read_round_trip(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 1600).astype(np.float32)
    write_wav(tmp_path / "r.wav", x, 16000)
    y, rate = read_wav(tmp_path / "r.wav")
    assert rate == 16000 and np.abs(x - y).max() < 1e-4


def test_resampling_keeps_the_band_and_removes_what_would_alias():
    t = np.arange(48000) / 48000
    keep = resample(np.sin(2 * np.pi * 1000 * t).astype(np.float32), 48000, 16000)
    gone = resample(np.sin(2 * np.pi * 10000 * t).astype(np.float32), 48000, 16000)
    assert len(keep) == 16000 and abs(np.sqrt((keep[500:-500] ** 2).mean()) - 0.7071) < 0.01
    assert np.sqrt((gone[500:-500] ** 2).mean()) < 0.01
    x = np.random.default_rng(1).normal(size=22050).astype(np.float32)
    r = Resampler(22050, 16000)
    streamed = np.concatenate([r.process(x[i:i + 777]) for i in range(0, len(x), 777)] + [r.flush()])[:16000]
    np.testing.assert_allclose(streamed, resample(x, 22050, 16000), atol=1e-6)


def test_clips_are_cut_and_padded_around_their_centre():
    fe = FrontEnd()
    short = np.ones(10_000, np.float32)
    padded = fe.fit_clip(short)
    assert padded.shape == (16_000,) and padded[:3000].sum() == 0 and padded[3000:13000].all() and padded[13000:].sum() == 0
    long = np.arange(20_000, dtype=np.float32)
    np.testing.assert_array_equal(fe.fit_clip(long), long[2000:18000])


def test_front_end_shape_and_round_trip_through_the_manifest():
    fe = FrontEnd(mean=-5.0, std=4.0)
    clip = np.random.default_rng(2).normal(size=16000).astype(np.float32) * 0.1
    feats = fe.logmel(clip)
    assert feats.shape == fe.shape == (98, 40, 1) and feats.dtype == np.float32
    np.testing.assert_allclose(fe.logmel(np.stack([clip, clip]))[1], feats)
    assert FrontEnd.from_dict(fe.to_dict()) == fe
    # a tone lands in the mel band that holds its frequency
    t = np.arange(16000) / 16000
    tone = fe.logmel(np.sin(2 * np.pi * 1000 * t).astype(np.float32), normalise=False)
    centre_hz = 700 * (10 ** (np.linspace(2595 * np.log10(1 + 20 / 700), 2595 * np.log10(1 + 7600 / 700), 42)[1:-1] / 2595) - 1)
    assert abs(centre_hz[int(tone[:, :, 0].mean(axis=0).argmax())] - 1000) < 150


def test_microphone_source_with_a_fake_portaudio():
    signal = np.sin(2 * np.pi * 300 * np.arange(48000) / 48000).astype(np.float32)
    with MicSource(backend=FakeSoundDevice(signal, 48000, overflow_every=5), block_seconds=0.05) as mic:
        got = [block for block, rate in mic]
        assert mic.rate == 48000
    joined = np.concatenate(got)
    assert len(joined) + mic.dropped * 2400 == len(signal)
    assert mic.overflows == 4  # counted, not fatal
    with pytest.raises(DeviceError, match="audio input 7 cannot be opened"):
        MicSource(device=7, backend=FakeSoundDevice(signal, 48000))


def test_real_portaudio_input_where_there_is_one():
    devices = input_devices()
    if not devices:
        pytest.skip("no PortAudio input device on this machine (no microphone): the fake in tests/hardware.py stands in")
    with MicSource(device=devices[0]["index"], block_seconds=0.05) as mic:
        block, rate = next(iter(mic))
        assert block.ndim == 1 and rate > 0
