"""``CommandRecognizer``: spoken commands from a stream of audio.

Model contract: task ``commands``; one input, float32 log-mel features (N, frames, mel bands, 1)
computed by the front end described in ``manifest.params["front_end"]`` (normalisation included);
one output, (N, labels) class probabilities in the order of ``manifest.labels``;
``manifest.thresholds`` gives the per-label score an event needs.

Streaming: a 1 s window slides with a hop (default 250 ms); posteriors are averaged over the last
``smoothing`` windows; a command is reported when its smoothed score is the highest and reaches its
threshold, no event came within the refractory period, and the previous event's label has since
fallen below its threshold (so one word, seen by several overlapping windows, is one event).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from edgeward.core.config import at_least, check, option
from edgeward.core.errors import ConfigError, InputError, TensorError
from edgeward.devices import Profile
from edgeward.runtime.io.audio_features import FrontEnd
from edgeward.runtime.io.audio_io import Resampler, resample, to_mono
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask
from edgeward.runtime.registry import Feed

TASK = "commands"  # the manifest task this runtime reads
NOT_COMMANDS = ("_unknown_", "_silence_")


@dataclass(frozen=True)
class Event:
    label: str
    score: float
    start: float  # seconds since the stream began: the window in which it was heard
    end: float


@dataclass(frozen=True)
class RecognizerOptions:
    hop_ms: float = option(250.0, "window hop, ms")
    smoothing: int = option(3, "windows whose posteriors are averaged")
    refractory_ms: float = option(1000.0, "least time between two events, ms")
    thresholds: dict[str, float] | None = option(None, "per label; default: the manifest's", cli=False)

    def __post_init__(self):
        check(self, "hop_ms", isinstance(self.hop_ms, (int, float)) and 1 <= self.hop_ms <= 60_000,
              "a number of ms from 1 to 60,000 (at most the model's window: checked with the model)")
        at_least(self, 1, "smoothing")
        at_least(self, 0, "refractory_ms")


PCM_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0, np.dtype(np.int8): 128.0}


def as_float_samples(samples) -> np.ndarray:
    """Samples as float32 in [-1, 1]: float as they are, integer PCM (int8, int16, int32, as sound cards give them)
    scaled, uint8 centred; anything else, or a NaN, is a ``TensorError``."""
    x = np.asarray(samples)
    if x.dtype.kind == "f":
        x = x.astype(np.float32, copy=False)
    elif x.dtype in PCM_SCALE:
        x = x.astype(np.float32) / PCM_SCALE[x.dtype]
    elif x.dtype == np.uint8:
        x = (x.astype(np.float32) - 128.0) / 128.0
    else:
        raise TensorError(f"samples: expected float or integer PCM audio, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise TensorError(f"samples: expected finite values, got {x[~np.isfinite(x)][0]}")
    return x


class CommandRecognizer(ModelTask):
    task = TASK
    feeds = frozenset({Feed.AUDIO})
    options_type = RecognizerOptions
    parity_feed = Feed.AUDIO  # a WAV file

    @classmethod
    def parity_results(cls, artifact: str, source: str) -> dict:
        """The events heard in the WAV file ``source``, every command's threshold at 0 (a tiny test model decides
        something on every window, so that the decisions have something to differ on)."""
        from edgeward.runtime.io.audio_sources import WavSource

        with cls.from_file(artifact, device="auto", threads=1) as probe:
            labels = probe.labels
        options = RecognizerOptions(thresholds={label: 0.0 for label in labels if label not in NOT_COMMANDS})
        with cls.from_file(artifact, device="auto", threads=1, options=options) as rec, WavSource(source) as audio:
            return {"events": [[e.label, e.start, e.score] for e in rec.stream(audio)]}

    @staticmethod
    def parity_compare(a: dict, b: dict, names: tuple[str, str]) -> tuple[float, list, str]:
        ea, eb = [e[:2] for e in a["events"]], [e[:2] for e in b["events"]]
        values = float(max((abs(x[2] - y[2]) for x, y in zip(a["events"], b["events"])), default=0.0)) if ea == eb else float("nan")
        differ = [e for e in ea if e not in eb] + [e for e in eb if e not in ea]
        return values, differ, f"{len(ea)} events on {names[0]}, {len(eb)} on {names[1]}, {len(differ)} differ"

    def __init__(self, model: Model, options: RecognizerOptions = RecognizerOptions()):
        manifest = model.manifest
        if manifest.task != TASK:
            raise InputError(f"{model.source}: expected a {TASK} model, got task '{manifest.task}'")
        self.model, self.options = model, options
        self.front_end = FrontEnd.from_dict(manifest.params.get("front_end", {}), model.source)
        self.labels = manifest.labels
        thresholds = {**manifest.thresholds, **(options.thresholds or {})}
        self._thresholds = np.array([thresholds.get(label, 1.01 if label in NOT_COMMANDS else 0.5) for label in self.labels])
        self._command = np.array([label not in NOT_COMMANDS for label in self.labels])
        self._input = model.input_names[0]
        self.hop = int(round(self.front_end.sample_rate * options.hop_ms / 1000))
        window_ms = 1000 * self.front_end.clip_samples / self.front_end.sample_rate
        if options.hop_ms > window_ms:  # the audio between two windows would never be heard
            raise ConfigError(f"hop_ms (--hop-ms): expected at most the model's window ({window_ms:g} ms), got "
                              f"{options.hop_ms:g}")
        self._quiet: np.ndarray | None = None  # the window of silence before a stream: its posteriors, once
        self.reset()

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None,
                  options: RecognizerOptions = RecognizerOptions()) -> "CommandRecognizer":
        return cls(Model(source, device=device, threads=threads), options)

    def reset(self) -> None:
        self._buffer = np.zeros(self.front_end.clip_samples, dtype=np.float32)
        self._since = 0  # samples since the last window
        self._seen = 0  # samples consumed, at the model's rate
        if self._quiet is None:
            feats = self.front_end.logmel(np.zeros(self.front_end.clip_samples, dtype=np.float32))[None]
            self._quiet = self.model.run({self._input: feats}, validate=False)[self.model.output_names[0]][0]
        # a stream begins after silence: the windows that smoothing averages over before its first are silent ones,
        # so a word at its very start is decided as the same word after a pause is (not on its first quarter second)
        self._posteriors: deque = deque([self._quiet] * (self.options.smoothing - 1), maxlen=self.options.smoothing)
        self._last_event = -1e9
        self._holding: int | None = None  # label of the last event, until its score falls below threshold
        self._rate: int | None = None
        self._resampler: Resampler | None = None
        self.windows = 0

    def classify(self, clip: np.ndarray, sample_rate: int | None = None) -> tuple[str, float, np.ndarray]:
        """One clip (cut or padded to 1 s around its centre, as in training): (label, score, all probabilities)."""
        x = to_mono(np.asarray(clip, dtype=np.float32))
        rate = sample_rate or self.front_end.sample_rate
        if rate != self.front_end.sample_rate:
            x = resample(x, rate, self.front_end.sample_rate)
        probs = self._infer(self.front_end.fit_clip(x))
        k = int(np.argmax(probs))
        return self.labels[k], float(probs[k]), probs

    def _infer(self, clip: np.ndarray) -> np.ndarray:
        feats = self.front_end.logmel(clip)[None]
        self.windows += 1
        return self.model.run({self._input: feats}, validate=False)[self.model.output_names[0]][0]

    def accept(self, samples: np.ndarray, sample_rate: int) -> list[Event]:
        """Feed audio; returns the events decided by it. The rate must stay the same within a stream."""
        if self._rate is None:
            whole = isinstance(sample_rate, (int, float, np.integer, np.floating)) and float(sample_rate).is_integer()
            if not (whole and 1000 <= sample_rate <= 384_000):
                raise InputError(f"sample_rate: expected a whole number of Hz from 1,000 to 384,000, got {sample_rate!r}")
            self._rate = int(sample_rate)
            if self._rate != self.front_end.sample_rate:
                self._resampler = Resampler(self._rate, self.front_end.sample_rate)
        elif int(sample_rate) != self._rate:
            raise InputError(f"sample rate changed mid-stream: expected {self._rate} Hz, got {sample_rate} Hz (call reset() first)")
        x = to_mono(as_float_samples(samples))
        if self._resampler is not None:
            x = self._resampler.process(x)
        events = []
        while len(x):
            take = min(len(x), self.hop - self._since)
            self._buffer = np.roll(self._buffer, -take)
            self._buffer[-take:] = x[:take]
            x = x[take:]
            self._since += take
            self._seen += take
            if self._since >= self.hop:
                self._since = 0
                event = self._window()
                if event is not None:
                    events.append(event)
        return events

    def _window(self) -> Event | None:
        return self.decide(self._infer(self._buffer), self._seen / self.front_end.sample_rate)

    def decide(self, probs: np.ndarray, now: float) -> Event | None:
        """The decision on one window's class probabilities, the window ending ``now`` seconds into the
        stream: smoothing, thresholds, refractory period and hold. Streaming calls it for every window;
        posteriors saved from one pass can be decided again under other thresholds (``edgeward tune``)."""
        self._posteriors.append(probs)
        smoothed = np.mean(self._posteriors, axis=0)
        k = int(np.argmax(smoothed))
        if self._holding is not None and smoothed[self._holding] < self._thresholds[self._holding]:
            self._holding = None
        if (self._command[k] and smoothed[k] >= self._thresholds[k] and self._holding is None
                and (now - self._last_event) * 1000 >= self.options.refractory_ms):
            self._last_event, self._holding = now, k
            return Event(self.labels[k], round(float(smoothed[k]), 4), round(max(0.0, now - self.front_end.clip_seconds), 3),
                         round(now, 3))
        return None

    def stream(self, source: Iterable[tuple[np.ndarray, int]]) -> Iterator[Event]:
        """Events from a source of (block, sample_rate), as they are decided."""
        for block, rate in source:
            yield from self.accept(block, rate)

    def listen(self, blocks):
        """The events of ``stream`` as JSON values, for a live source of the server."""
        for event in self.stream(blocks):
            yield {"label": event.label, "score": round(event.score, 4), "start": event.start, "end": event.end}
