"""The voice-commands task's configurations and its part of the training record (dataclasses only)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from edgeward.core.config import at_least, check, fraction, option, refuse
from edgeward.train.commands.augment import Augmentation
from edgeward.train.commands.vocabulary import check_words


def _pair(config, name: str) -> None:
    value = getattr(config, name)
    check(config, name, len(value) == 2 and value[0] <= value[1], "two numbers, low then high")


class Engine(str, Enum):
    """Who speaks the data: espeak-ng (training and its test voices), or festival (a held-out engine, evaluation only)."""

    ESPEAK = "espeak-ng"
    FESTIVAL = "festival"


class CommandsArch(str, Enum):
    """The network: edgeward's DS-CNN over (frames, mel bands, 1), or the founding article's speech CNN, 1-D
    convolutions over time on (frames, mel bands)."""

    DS_CNN = "ds-cnn"
    SPEECH_CNN = "speech-cnn"


@dataclass(frozen=True)
class CommandsDataConfig:
    words: tuple[str, ...] = option((), "the commands: words or short phrases, comma-separated (default: Speech "
                                        "Commands' yes,no,up,down,left,right,on,off,stop,go)")
    per_class: int = option(400, "training clips per label; validation and test get a quarter each (with --eval-only: "
                                 "clips per label in each half)")
    engine: Engine = option(Engine.ESPEAK, "the speech engine; festival is held out for evaluation (needs --eval-only)")
    eval_only: bool = option(False, "evaluation data only: no training clips; the validation half (choose thresholds "
                                    "and augmentations on it) and the test half (only measure it)")
    seed: int = option(0, "random seed (also splits the voices)")
    voice_seed: int | None = option(None, "the seed that splits the voices (default: --seed): fresh data in the voices "
                                          "a model was trained on the split of")
    snr_db: tuple[float, float] = option((5.0, 30.0), "speech over noise in the clips, dB: low high")
    # extra training-only `_unknown_` clips: 15-50% of a random command cut at the clip's edge, as a sliding
    # window sees a word entering or leaving it, so that the tail of "stop" is not taken for "up"
    fragments: float = option(1.0, "command fragments added to _unknown_, times per-class")
    accents: float = option(0.0, "share of the training clips spoken by espeak-ng's other languages' voices (English "
                                  "words in a German, Spanish, Polish ... accent; the test voices stay English)")
    backgrounds: int = option(0, "minute-long recordings of each noise written to _background_noise_, which "
                                 "training then mixes into the clips")
    val_fraction: float = option(0.15, "share of the voice variants for validation")
    test_fraction: float = option(0.2, "share of the voice variants for testing")
    stream_minutes: float = option(10.0, "a long stream of test voices with its ground truth (0: none)")
    val_stream_minutes: float | None = option(None, "the validation voices' stream that `tune` chooses thresholds "
                                                    "on (default: as --stream-minutes)")
    train_stream_minutes: float = option(0.0, "a stream of the training voices, which `bench` sets beside the "
                                              "test voices' (0: none)")
    stress_stream_minutes: float = option(0.0, "a stream of test voices at -6 to 34 dB, wider than the clips' 5-30 "
                                               "(the others' range): a stress test, reported by SNR band (0: none)")

    def __post_init__(self):
        at_least(self, 1, "per_class")
        if self.words:
            check_words(self.words)
        if not isinstance(self.engine, Engine):
            refuse("engine", f"one of {', '.join(e.value for e in Engine)}", self.engine)
        if self.engine is not Engine.ESPEAK and not self.eval_only:
            refuse("engine", "espeak-ng, or festival with --eval-only (festival is held out: never trained on)",
                   self.engine.value)
        fraction(self, "accents", high_open=False)
        check(self, "accents", not (self.eval_only and self.accents), "0 with --eval-only (accents are for training)")
        at_least(self, 0, "fragments", "backgrounds", "stream_minutes", "train_stream_minutes", "stress_stream_minutes")
        check(self, "train_stream_minutes", not (self.eval_only and self.train_stream_minutes), "0 with --eval-only "
                                                                                                "(no training voices)")
        if self.val_stream_minutes is not None:
            at_least(self, 0, "val_stream_minutes")
        fraction(self, "val_fraction", "test_fraction", low_open=True)
        check(self, "test_fraction", self.val_fraction + self.test_fraction < 1, "a share that, with val, leaves voices "
                                                                                  "for training")
        _pair(self, "snr_db")

    def stream_lengths(self) -> dict[str, float]:
        """Minutes of each stream (``write_streams``)."""
        val = self.stream_minutes if self.val_stream_minutes is None else self.val_stream_minutes
        return {"test": self.stream_minutes, "val": val, "train": self.train_stream_minutes,
                "stress": self.stress_stream_minutes}


@dataclass(frozen=True)
class CommandsTrainConfig:
    words: tuple[str, ...] = option((), "the commands to learn, comma-separated: folders of the data (default: its "
                                        "commands.txt, else Speech Commands' ten); other word folders are _unknown_")
    arch: CommandsArch = option(CommandsArch.DS_CNN, "the network: ds-cnn (depthwise-separable 2-D convolutions) or "
                                                     "speech-cnn (the article's Conv1D over time, input (frames, bands))")
    epochs: int = option(30, "passes over the training clips")
    batch_size: int = option(64, "clips per batch")
    filters: int = option(64, "DS-CNN width (80 still fits int8 in 64 KB)")
    blocks: int = option(4, "depthwise-separable blocks")
    # block i's depthwise conv looks 2**i frames apart in time: a receptive field of 0.7 s (a whole word)
    # instead of 0.26 s (a syllable) at the same size and inference cost; False: Hello Edge's DS-CNN
    dilate: bool = option(True, "dilate block i's depthwise conv 2^i in time (--no-dilate: 0.26 s receptive field, "
                                "not 0.7 s)")
    learning_rate: float = option(3e-3, "Adam's initial learning rate (cosine decay)")
    dropout: float = option(0.2, "dropout before the classifier")
    time_mask: int = option(12, "most frames masked per clip (SpecAugment)")
    freq_mask: int = option(6, "most mel bands masked per clip (SpecAugment)")
    shift: int = option(8, "most frames of random time shift")
    # where the data has _background_noise_ recordings (Speech Commands does): the share of training clips,
    # each batch, that get a random slice of one at a random SNR to the clip, so a word meets many backgrounds
    background: float = option(0.8, "share of training clips mixed with a _background_noise_ slice each batch")
    background_snr: tuple[float, float] = option((0.0, 20.0), "SNR of those mixes, dB: low high")
    # which ones a model keeps is chosen on the held-out engine's choosing half (docs/benchmarks.md, issue 26)
    augment: tuple[str, ...] = option((), "waveform augmentations of the training clips, comma-separated: "
                                          + ",".join(a.value for a in Augmentation) + " (train/commands/augment.py)")
    augment_share: float = option(0.5, "share of each batch's clips that each augmentation is applied to")
    false_accept: float = option(0.002, "per-label threshold: at most this share of other validation clips reach it")
    seed: int = option(0, "random seed")

    def __post_init__(self):
        if self.words:
            check_words(self.words)
        at_least(self, 1, "epochs", "batch_size", "filters", "blocks")
        at_least(self, 0, "time_mask", "freq_mask", "shift")
        check(self, "learning_rate", self.learning_rate > 0, "a number > 0")
        fraction(self, "dropout")
        fraction(self, "background", high_open=False)
        fraction(self, "false_accept", low_open=True)
        fraction(self, "augment_share", high_open=False)
        known = [a.value for a in Augmentation]
        for name in self.augment:
            if name not in known:
                refuse("augment", f"augmentations among {', '.join(known)}", ",".join(self.augment))
        _pair(self, "background_snr")


@dataclass(frozen=True)
class CommandsPayload:
    """The voice-commands task's part of the training record."""

    front_end: dict  # the runtime's FrontEnd, with the normalisation measured on the training clips
    confusion: list[list[int]]  # test clips: said (rows) x predicted (columns), in label order
    backgrounds: int = 0  # _background_noise_ recordings mixed in during training
