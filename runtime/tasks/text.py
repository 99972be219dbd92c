"""Text models: the word tokenizer shared by training and the runtime, and ``TextClassifier``.

Model contract: one int32 input (N, L), word ids padded to the tokenizer's ``length``; one output (N, C), class
probabilities in ``manifest.labels`` order. ``manifest.params["tokenizer"]`` is the ``WordTokenizer`` training
used (its vocabulary, length, padding and out-of-vocabulary ids), so the user passes strings, never ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from edgeward.core.errors import InputError, ManifestError
from edgeward.devices import Profile
from edgeward.runtime.tasks.classify import Prediction
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask

PAD, OOV = 0, 1  # the ids a vocabulary's words start after
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class WordTokenizer:
    """Lower-cased words (letters and digits, with an apostrophe's ending kept: "don't") to ids: 0 pads, 1 is any
    word outside ``vocabulary``, the vocabulary's words are 2, 3, ... in its order. Texts are cut or padded (at the
    end) to ``length`` ids."""

    vocabulary: tuple[str, ...]
    length: int

    def __post_init__(self):
        if not isinstance(self.length, int) or self.length < 1:
            raise ManifestError(f"tokenizer length: expected a whole number >= 1, got {self.length!r}")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ManifestError("tokenizer vocabulary: expected distinct words, got repeats")

    @classmethod
    def fit(cls, texts: Iterable[str], size: int, length: int) -> "WordTokenizer":
        """The ``size - 2`` most frequent words of ``texts`` (ties by first appearance)."""
        counts = Counter(w for t in texts for w in words(t))
        return cls(tuple(w for w, _ in counts.most_common(max(0, size - 2))), length)

    @property
    def size(self) -> int:
        return len(self.vocabulary) + 2

    def encode(self, texts: Iterable[str] | str) -> np.ndarray:
        """(N, length) int32 ids of N texts (one text: (1, length))."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        index = self._index
        out = np.full((len(batch), self.length), PAD, np.int32)
        for i, text in enumerate(batch):
            if not isinstance(text, str):
                raise InputError(f"text {i}: expected a string, got {type(text).__name__}")
            ids = [index.get(w, OOV) for w in words(text)][: self.length]
            out[i, : len(ids)] = ids
        return out

    @cached_property
    def _index(self) -> dict[str, int]:
        return {w: i + 2 for i, w in enumerate(self.vocabulary)}

    def to_dict(self) -> dict:
        return {"vocabulary": list(self.vocabulary), "length": self.length, "padding": PAD, "oov": OOV}

    @classmethod
    def from_dict(cls, data, source: str = "manifest") -> "WordTokenizer":
        if not isinstance(data, dict) or not isinstance(data.get("vocabulary"), list) or "length" not in data:
            raise ManifestError(f"{source}: manifest field 'params.tokenizer': expected vocabulary and length")
        if data.get("padding", PAD) != PAD or data.get("oov", OOV) != OOV:
            raise ManifestError(f"{source}: manifest field 'params.tokenizer': expected padding id {PAD} and "
                                f"out-of-vocabulary id {OOV}, got {data.get('padding')} and {data.get('oov')}")
        return cls(tuple(str(w) for w in data["vocabulary"]), data["length"])


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class TextClassifier(ModelTask):
    """Strings in, classes out: the manifest's tokenizer turns each text into the ids the model takes."""

    task = "generic"

    def __init__(self, model: Model):
        m = model.manifest
        if "tokenizer" not in m.params:
            raise ManifestError(f"{model.source}: manifest field 'params.tokenizer' is missing: not a text model "
                                "(adopt it with --params holding its tokenizer)")
        self.tokenizer = WordTokenizer.from_dict(m.params["tokenizer"], model.source)
        if len(m.inputs) != 1 or len(m.inputs[0].shape) != 2 or np.dtype(m.inputs[0].dtype).kind not in "iu":
            raise ManifestError(f"{model.source}: expected one integer input (N, L), got "
                                f"{', '.join(f'{t.name} {t.shape} {t.dtype}' for t in m.inputs)}")
        self.model = model
        self._input, self._dtype = m.inputs[0].name, np.dtype(m.inputs[0].dtype)
        classes = m.outputs[0].shape[-1]
        self.labels = tuple(m.labels) or tuple(str(i) for i in range(classes or 0))

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None):
        return cls(Model(source, device=device, threads=threads))

    def probabilities(self, texts: Iterable[str] | str) -> np.ndarray:
        """(N, C) class probabilities of N texts."""
        ids = self.tokenizer.encode(texts).astype(self._dtype)
        return self.model.run({self._input: ids}, validate=False)[self.model.output_names[0]]

    def classify(self, text: str, top_k: int = 3) -> list[Prediction]:
        """The ``top_k`` most likely classes of one text, most likely first."""
        if not isinstance(text, str):
            raise InputError(f"text: expected a string, got {type(text).__name__}")
        probs = self.probabilities(text)[0]
        order = np.argsort(-probs, kind="stable")[: max(1, top_k)]
        return [Prediction(self.labels[i], int(i), float(probs[i])) for i in order]

    def predict(self, texts: Iterable[str]) -> list[str]:
        """Each text's most likely class name."""
        return [self.labels[i] for i in self.probabilities(list(texts)).argmax(axis=1)]
