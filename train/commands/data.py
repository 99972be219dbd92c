"""Keyword-spotting data: generated speech in the Speech Commands layout, and the loader for it.

``generate_commands`` speaks each command (``vocabulary.py``: Speech Commands' ten, or words the user
chose) and general English words for ``_unknown_`` in many voices (``voices.py``: espeak-ng's, split by
variant so the validation and test voices never appear in training; or festival's, for evaluation only)
with pitch, speed and amplitude variation and a random time shift (on request, a share of the training clips in
other languages' voices: English in their accents), mixes it with generated background
noise (white, pink, brown, mains hum, babble of other words) at a random SNR, and writes 1 s 16 kHz
mono WAVs, one folder per label, named ``{voice}_nohash_{n}.wav``, with ``validation_list.txt`` and
``testing_list.txt`` as Speech Commands has them, and ``commands.txt``. Training also gets `_unknown_`
clips cut from commands at the clip's edge, as a sliding window sees a word entering or leaving it. On
request (``backgrounds``) it also writes minute-long recordings of each noise to ``_background_noise_``,
as Speech Commands ships its own, for training to mix into the clips afresh every epoch. ``write_stream``
makes a long recording with commands at known times and SNRs.
"""

from __future__ import annotations

import csv
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edgeward.core.errors import InputError
from edgeward.runtime.io.audio_io import read_wav, resample, to_mono, write_wav
from edgeward.train.commands.config import CommandsDataConfig
from edgeward.train.commands.vocabulary import (
    SILENCE,
    SPEECH_COMMANDS,
    SPEEDS,
    UNKNOWN,
    Vocabulary,
    folder_name,
    read_commands,
    slowest_speeds,
    vocabulary,
    write_commands,
)
from edgeward.train.commands.voices import (  # noqa: F401
    RATE,
    Engine,
    accented,
    engine_voices,
    espeak_available,
    speak,
    split_voices,
)

BACKGROUND = "_background_noise_"
LABELS = SPEECH_COMMANDS + (UNKNOWN, SILENCE)  # Speech Commands' own: a folder with no commands.txt
NOISES = ("white", "pink", "brown", "hum", "babble")


def noise(kind: str, n: int, rng: np.random.Generator, babble: list[np.ndarray]) -> np.ndarray:
    if kind == "white":
        x = rng.normal(size=n)
    elif kind in ("pink", "brown"):
        spectrum = np.fft.rfft(rng.normal(size=n))
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        x = np.fft.irfft(spectrum / (np.sqrt(f) if kind == "pink" else f), n)
    elif kind == "hum":
        t = np.arange(n) / RATE
        base = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) for k in range(1, 6))
        x = x + 0.05 * rng.normal(size=n)
    else:  # babble: 3 to 6 other words a second, overlapping, at random places (a crowd, not a speaker)
        x = np.zeros(n)
        for _ in range(rng.integers(3, 7) * -(-n // RATE)):
            w = babble[rng.integers(len(babble))]
            w = w[: n // 2] * rng.uniform(0.3, 1.0)
            at = rng.integers(0, max(1, n - len(w)))
            x[at: at + len(w)] += w
    x = np.asarray(x, dtype=np.float64)
    return (x / (np.sqrt((x ** 2).mean()) + 1e-9)).astype(np.float32)


def mix(speech: np.ndarray | None, kind: str, snr_db: float, rng: np.random.Generator, babble, n: int = RATE,
        at: int | None = None) -> np.ndarray:
    """A 1 s clip: the speech at ``at`` (default a random place: time shift) over background noise at ``snr_db``."""
    clip = np.zeros(n, dtype=np.float32)
    level = rng.uniform(0.05, 0.5)
    if speech is not None:
        s = speech[:n]
        at = rng.integers(0, n - len(s) + 1) if at is None else at
        clip[at: at + len(s)] = s * level
        rms = np.sqrt((clip[at: at + len(s)] ** 2).mean()) + 1e-9
    else:
        rms = level * 0.3 * rng.uniform(0.01, 1.0)
    clip += noise(kind, n, rng, babble) * rms / (10 ** (snr_db / 20))
    return np.clip(clip, -1, 1)


def _word_jobs(split: str, voices: list[str], n: int, rng: np.random.Generator, vocab: Vocabulary,
               speeds: dict[str, int]) -> list[tuple]:
    """(split, label, word, voice, pitch, speed, amplitude, index) for n clips of every label but silence;
    twice as many for the unknown class, which holds many words (as Speech Commands' does). A long phrase
    is spoken no slower than fits the window (``speeds``)."""
    jobs = []
    for label in vocab.commands + (UNKNOWN,):
        for i in range(2 * n if label == UNKNOWN else n):
            word = vocab.unknown[rng.integers(len(vocab.unknown))] if label == UNKNOWN else label
            jobs.append((split, label, word, voices[rng.integers(len(voices))], int(rng.integers(20, 81)),
                         int(rng.integers(speeds.get(word, SPEEDS[0]), SPEEDS[1] + 1)), int(rng.integers(70, 181)), i))
    return jobs


def _speak_all(jobs: list[tuple], desc: str, progress: bool) -> list[np.ndarray]:
    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(tqdm(pool.map(lambda j: speak(j[2], *j[3:7]), jobs), total=len(jobs), desc=desc,
                         disable=not progress, leave=False))


def fragment(speech: np.ndarray, rng: np.random.Generator, n: int = RATE) -> tuple[np.ndarray, int]:
    """15-50% of a word and where it goes in an ``n``-sample clip: its head at the clip's end (the word
    entering the window) or its tail at the clip's start (the word leaving it)."""
    k = max(1, int(len(speech) * rng.uniform(0.15, 0.5)))
    if rng.random() < 0.5:
        return speech[:k], n - k
    return speech[-k:], 0


def _speaker(voice: str) -> str:
    """A voice as the speaker part of a clip's file name (Speech Commands' ``{speaker}_nohash_{n}``)."""
    return voice.replace("+", "-").replace(":", "-")


def generate_commands(out: str | os.PathLike, config: CommandsDataConfig = CommandsDataConfig(), progress: bool = False) -> dict:
    out = Path(out)
    vocab = vocabulary(config.words or SPEECH_COMMANDS)
    speeds = slowest_speeds(vocab.commands, window_seconds=1.0)  # the clips are 1 s: the front end's window
    rng = np.random.default_rng(config.seed)
    voice_seed = config.seed if config.voice_seed is None else config.voice_seed
    voices = engine_voices(config.engine, voice_seed, config.val_fraction, config.test_fraction)
    sizes = {"train": config.per_class, "val": max(4, config.per_class // 4), "test": max(4, config.per_class // 4)}
    if config.eval_only:
        sizes = {"train": 0, "val": config.per_class, "test": config.per_class}
    jobs = [j for split, n in sizes.items() for j in _word_jobs(split, voices[split], n, rng, vocab, speeds)]
    if config.accents:  # its own stream: without accents the data stays as it was
        accent_rng = np.random.default_rng([config.seed, 3])
        jobs = [(*j[:3], accented(j[3], accent_rng), *j[4:]) if j[0] == "train" and accent_rng.random() < config.accents
                else j for j in jobs]
    spoken = _speak_all(jobs, "speaking", progress)
    babble = [s for j, s in zip(jobs, spoken) if j[1] == UNKNOWN][:200]
    lists: dict[str, list[str]] = {"val": [], "test": []}
    counts = {label: 0 for label in vocab.labels}
    write_commands(out, vocab.commands)
    for (split, label, _, voice, *_rest, i), speech in zip(jobs, spoken):
        name = f"{folder_name(label)}/{_speaker(voice)}_nohash_{split}{i}.wav"
        kind = NOISES[rng.integers(len(NOISES))]
        write_wav(out / name, mix(speech, kind, rng.uniform(*config.snr_db), rng, babble), RATE)
        counts[label] += 1
        if split != "train":
            lists[split].append(name)
    frag_rng = np.random.default_rng([config.seed, 1])  # its own stream: the other clips stay as they were
    n_frag = 0 if config.eval_only else round(config.fragments * config.per_class)
    frag_jobs = _word_jobs("train", voices["train"], n_frag, frag_rng, vocab, speeds)  # the command words come first
    frag_jobs = [frag_jobs[k] for k in frag_rng.choice(len(vocab.commands) * n_frag, n_frag, replace=False)]
    for i, (job, speech) in enumerate(zip(frag_jobs, _speak_all(frag_jobs, "speaking fragments", progress))):
        piece, at = fragment(speech, frag_rng)
        kind = NOISES[frag_rng.integers(len(NOISES))]
        write_wav(out / f"{UNKNOWN}/{_speaker(job[3])}_nohash_fragment{i}.wav",
                  mix(piece, kind, frag_rng.uniform(*config.snr_db), frag_rng, babble, at=at), RATE)
        counts[UNKNOWN] += 1
    for split, n in sizes.items():
        for i in range(n):
            name = f"{SILENCE}/{NOISES[i % len(NOISES)]}_nohash_{split}{i}.wav"
            write_wav(out / name, mix(None, NOISES[i % len(NOISES)], 0.0, rng, babble), RATE)
            counts[SILENCE] += 1
            if split != "train":
                lists[split].append(name)
    bg_rng = np.random.default_rng([config.seed, 2])  # its own stream, as the fragments have
    for i in range(config.backgrounds):
        for kind in NOISES:
            write_wav(out / BACKGROUND / f"{kind}_{i}.wav", 0.1 * noise(kind, 60 * RATE, bg_rng, babble), RATE)
    (out / "validation_list.txt").write_text("\n".join(lists["val"]) + "\n")
    (out / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    return {"path": str(out), "clips": sum(counts.values()), "per_label": counts, "engine": Engine(config.engine).value,
            "voices": {k: len(v) for k, v in voices.items()}, "commands": vocab.commands, "unknown_words": len(vocab.unknown),
            "left_out": vocab.excluded}


def write_stream(out_wav: str | os.PathLike, out_csv: str | os.PathLike, minutes: float = 10.0, seed: int = 1,
                 split: str = "test", voice_seed: int = 0, progress: bool = False,
                 commands: tuple[str, ...] = SPEECH_COMMANDS, snr_db: tuple[float, float] = (5.0, 30.0),
                 engine: Engine = Engine.ESPEAK) -> dict:
    """A long recording over changing background noise, with commands and other words at known times.

    Each word is said at an SNR drawn from ``snr_db``: the background's level follows the words (it steadies
    0.8 s before each word and glides to the next word's level in the pause after it), and its kind changes
    every 30 s. Ground truth CSV: ``start,end,label,background,snr_db`` for each spoken word (other words as
    ``_unknown_``; the background is the noise of the 30 s segment the word begins in, and ``snr_db`` the
    word's level over the background's under it, both as root mean square, as ``mix`` sets the clips' SNR).
    The voices are ``engine``'s of ``split`` as ``generate_commands`` splits them with ``voice_seed`` (its config's
    ``seed``): the test voices (never heard in training) for measuring, the validation voices for choosing
    stream thresholds (``edgeward tune``), the training voices for telling how much of a shortfall is voices
    never heard.
    """
    if split not in ("train", "val", "test"):
        raise InputError(f"write_stream split: expected train, val or test, got {split!r}")
    rng = np.random.default_rng(seed)
    voices = engine_voices(engine, voice_seed, CommandsDataConfig.val_fraction, CommandsDataConfig.test_fraction)[split]
    if not voices:
        raise InputError(f"write_stream: {Engine(engine).value} has no {split} voices (festival is held out: val and test only)")
    vocab = vocabulary(tuple(commands))
    speeds = slowest_speeds(vocab.commands, window_seconds=1.0)
    n = int(minutes * 60 * RATE)
    from tqdm import tqdm

    said, rows, t = [], [], 2.0  # first the words: what, when, and how loud the background is under each
    bar = tqdm(total=round(minutes * 60), unit="s", desc=f"speaking the {split} stream", disable=not progress, leave=False)
    while t < minutes * 60 - 3:
        label = vocab.commands[rng.integers(len(vocab.commands))] if rng.random() < 0.75 else UNKNOWN
        word = vocab.unknown[rng.integers(len(vocab.unknown))] if label == UNKNOWN else label
        s = speak(word, voices[rng.integers(len(voices))], int(rng.integers(20, 81)),
                  int(rng.integers(speeds.get(word, SPEEDS[0]), SPEEDS[1] + 1)), int(rng.integers(70, 181)))[:RATE]
        s = s * rng.uniform(0.1, 0.5)
        snr = rng.uniform(*snr_db)
        said.append((int(t * RATE), s, np.sqrt((s.astype(np.float64) ** 2).mean()) / 10 ** (snr / 20)))
        rows.append([round(t, 3), round(t + len(s) / RATE, 3), label, "", round(float(snr), 1)])
        t += len(s) / RATE + rng.uniform(2.0, 5.0)
        bar.update(min(round(t), round(minutes * 60)) - bar.n)
    bar.close()
    crowd = vocab.unknown[::len(vocab.unknown) // 12 or 1][:12]  # twelve words from across the list
    babble = [speak(w, voices[i % len(voices)], 50, 160, 100) for i, w in enumerate(crowd)]
    steady = 0.8 * RATE
    knots = np.array([k for start, s, _ in said for k in (start - steady, start + len(s) + steady)], dtype=np.float64)
    log_levels = np.log(np.repeat([level for *_, level in said], 2)) if said else np.zeros(2)
    knots = knots if said else np.array([0.0, 1.0])
    audio, segment, kinds = np.zeros(n, dtype=np.float32), 30 * RATE, []
    for at in range(0, n, segment):  # the background's kind changes every 30 s; its level follows the words
        kinds.append(NOISES[rng.integers(len(NOISES))])
        length = min(segment, n - at)
        envelope = np.exp(np.interp(np.arange(at, at + length, dtype=np.float64), knots, log_levels))
        audio[at: at + length] = noise(kinds[-1], length, rng, babble) * envelope
    for (start, s, _), row in zip(said, rows):
        audio[start: start + len(s)] += s
        row[3] = kinds[start // segment]
    write_wav(out_wav, np.clip(audio, -1, 1), RATE)
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["start", "end", "label", "background", "snr_db"])
        w.writerows(rows)
    return {"wav": str(out_wav), "csv": str(out_csv), "seconds": n / RATE, "words": len(rows),
            "commands": sum(r[2] != UNKNOWN for r in rows)}


TARGET_SNR = (5.0, 30.0)  # the clips' own range: what the stream targets are set on
STRESS_SNR = (-6.0, 34.0)  # wider on both sides: a stress test, reported by SNR band, no target below 5 dB
# the long streams of a dataset folder, which `tune` and `bench` read: which (the key), file stem, whose voices,
# seed offset, SNR range
STREAMS = (("test", "stream", "test", 1, TARGET_SNR), ("val", "val_stream", "val", 2, TARGET_SNR),
           ("train", "train_stream", "train", 3, TARGET_SNR), ("stress", "stress_stream", "test", 4, STRESS_SNR))


def stream_files(folder: str | os.PathLike, which: str) -> tuple[Path, Path]:
    """The WAV and ground-truth CSV of a dataset folder's stream ``which`` (test, val, train or stress)."""
    stem = next(stem for key, stem, *_ in STREAMS if key == which)
    return Path(folder) / f"{stem}.wav", Path(folder) / f"{stem}.csv"


def write_streams(folder: str | os.PathLike, seed: int, minutes: dict[str, float], progress: bool = False,
                  engine: Engine = Engine.ESPEAK, voice_seed: int | None = None) -> list[dict]:
    """The dataset's streams (``STREAMS``), ``minutes[which]`` long each (none where 0 or absent), in the
    voices ``generate_commands`` split with the same ``seed`` (or ``voice_seed``) and the folder's commands;
    each summary also names its ``split`` and SNR range."""
    commands = read_commands(folder)
    return [{"split": split, "which": key, "snr_db": snr,
             **write_stream(*stream_files(folder, key), minutes=minutes[key], seed=seed + offset, split=split,
                            voice_seed=seed if voice_seed is None else voice_seed, progress=progress, commands=commands,
                            snr_db=snr, engine=engine)}
            for key, _, split, offset, snr in STREAMS if minutes.get(key, 0) > 0]


def _split_of(name: str, lists: dict[str, set[str]]) -> str:
    if name in lists["test"]:
        return "test"
    if name in lists["val"]:
        return "val"
    if lists["test"] or lists["val"]:
        return "train"
    # no lists: Speech Commands' rule, by a hash of the speaker part of the file name
    speaker = Path(name).name.split("_nohash_")[0]
    bucket = zlib.crc32(speaker.encode()) % 100
    return "test" if bucket < 10 else "val" if bucket < 20 else "train"


def load_clips(folder: str | os.PathLike, front_end, labels: tuple[str, ...] = LABELS,
               backgrounds: list[np.ndarray] | None = None) -> dict:
    """Audio clips (N, clip_samples) at the front end's rate and label indices per split, from a Speech
    Commands layout.

    Folders named like a label (underscores for a phrase's spaces) are that label; other word folders are
    ``_unknown_``; ``_silence_`` clips come from that folder, or are cut from the ``_background_noise_``
    recordings (``backgrounds``, if the caller has read them already).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: expected a folder with one sub-folder of WAV files per label, got none")
    lists = {k: set((folder / f).read_text().split()) if (folder / f).exists() else set()
             for k, f in (("val", "validation_list.txt"), ("test", "testing_list.txt"))}
    clips: dict[str, list] = {"train": [], "val": [], "test": []}
    of_folder = {folder_name(label): label for label in labels}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name == BACKGROUND:
            continue
        label = of_folder.get(sub.name, UNKNOWN)
        for wav in sorted(sub.glob("*.wav")):
            clips[_split_of(f"{sub.name}/{wav.name}", lists)].append((wav, label))
    if not any(clips.values()):
        raise InputError(f"{folder}: expected label folders of .wav files, found none")
    words = [folder_name(label) for label in labels if label not in (UNKNOWN, SILENCE)]
    folders = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != BACKGROUND)
    if words and not set(words) & set(folders):  # every clip would be _unknown_: nothing to learn
        raise InputError(f"{folder}: expected folders named like the labels ({', '.join(words)}), got "
                         f"{', '.join(folders[:8])}{' ...' if len(folders) > 8 else ''} (names are case-sensitive)")
    if SILENCE in labels and not (folder / SILENCE).exists():
        for x in load_backgrounds(folder, front_end) if backgrounds is None else backgrounds:
            for k, at in enumerate(range(0, len(x) - front_end.clip_samples, front_end.clip_samples)):
                clips[("train", "train", "train", "val", "test")[k % 5]].append((x[at: at + front_end.clip_samples], SILENCE))
    return {split: (np.stack([_clip(item, front_end) for item, _ in items]) if items
                    else np.zeros((0, front_end.clip_samples), np.float32),
                    np.asarray([labels.index(label) for _, label in items], dtype=np.int64))
            for split, items in clips.items()}


def load_backgrounds(folder: str | os.PathLike, front_end) -> list[np.ndarray]:
    """The ``_background_noise_`` recordings (none if the folder has none), mono at the front end's rate."""
    out = []
    for wav in sorted((Path(folder) / BACKGROUND).glob("*.wav")):
        x, rate = read_wav(wav)
        out.append(resample(to_mono(x), rate, front_end.sample_rate))
    return out


def features(audio: np.ndarray, front_end, chunk: int = 512) -> np.ndarray:
    """Log-mel features (not normalised) of a batch of clips, a chunk at a time (the whole set's spectra
    would not fit)."""
    if not len(audio):
        return np.zeros((0, *front_end.shape), np.float32)
    return np.concatenate([front_end.logmel(audio[i: i + chunk], normalise=False) for i in range(0, len(audio), chunk)])


def load_commands(folder: str | os.PathLike, front_end, labels: tuple[str, ...] = LABELS) -> dict:
    """Log-mel features (not normalised) and label indices per split (see ``load_clips``)."""
    return {split: (features(audio, front_end), y) for split, (audio, y) in load_clips(folder, front_end, labels).items()}


def _clip(item, front_end) -> np.ndarray:
    """One WAV (or array) as exactly one clip at the front end's rate: mono, resampled, centred."""
    if isinstance(item, np.ndarray):
        x = item
    else:
        x, rate = read_wav(item)
        x = resample(to_mono(x), rate, front_end.sample_rate)
    return front_end.fit_clip(x)
