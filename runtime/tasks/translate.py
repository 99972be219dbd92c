"""``Translator``: text in one language to text in another, from an encoder-decoder model decoded greedily.

Two ways to ship the model, each file carrying ``manifest.params["translator"]``: the two ``WordTokenizer``s (the
target's vocabulary has ``<start>`` and ``<end>``), the input names (in the order below) and which ``part`` the
file is.

- ``whole`` (the article's model, one file): two int32 inputs of (N, L), the source's word ids and the target's so
  far (``<start>`` first, padding after); one output (N, L, V), the next word's probabilities at every position.
  It runs whole at every step, the encoder with it.
- ``encoder`` and ``decoder`` (two files, ``Translator.from_file(encoder, decoder=...)``): the encoder takes the
  source's ids and gives the memory (N, L, W), once a sentence; the decoder takes the memory and the target so far
  and gives (N, V), the next word after the target's last word. A step runs the decoder alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

import numpy as np

from edgeward.core.errors import InputError, ManifestError
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask
from edgeward.runtime.tasks.text import PAD, WordTokenizer

START, END = "<start>", "<end>"


def greedy(next_word: Callable[[np.ndarray, int], np.ndarray], n: int, length: int, start: int, end: int) -> np.ndarray:
    """(n, length - 1) target ids, decoded greedily: ``next_word(target so far, t)`` gives (n, V) probabilities of
    the word after position ``t``; each sentence stops at its ``end`` id (kept) or at padding, the rest is padding.
    Training measures its model with this same loop."""
    target = np.full((n, length), PAD, np.int32)
    target[:, 0] = start
    done = np.zeros(n, bool)
    for t in range(length - 1):
        nxt = np.asarray(next_word(target, t)).argmax(-1).astype(np.int32)
        target[:, t + 1] = np.where(done, PAD, nxt)
        done |= (nxt == end) | (nxt == PAD)
        if done.all():
            break
    return target[:, 1:]


def words_of(ids: np.ndarray, tokenizer: WordTokenizer, end: int) -> list[str]:
    """Each row of ids as words up to (not including) ``end``; padding and unknown ids dropped."""
    out = []
    for row in np.asarray(ids):
        words = []
        for i in row:
            if i == end or i == PAD:
                break
            if i >= 2:
                words.append(tokenizer.vocabulary[i - 2])
        out.append(" ".join(words))
    return out


class Part(str, Enum):
    WHOLE = "whole"
    ENCODER = "encoder"
    DECODER = "decoder"

    @property
    def described(self) -> str:
        return "the whole translator" if self is Part.WHOLE else f"the translator's {self.value}"


def _params(model: Model) -> tuple[dict, Part]:
    params = model.manifest.params.get("translator")
    if not isinstance(params, dict) or not {"source", "target", "inputs"} <= set(params):
        raise ManifestError(f"{model.source}: manifest field 'params.translator' is missing or lacks source, target, "
                            "inputs: not a translation model")
    try:
        part = Part(params.get("part", Part.WHOLE.value))
    except ValueError:
        raise ManifestError(f"{model.source}: manifest field 'params.translator.part': expected one of "
                            f"{', '.join(p.value for p in Part)}, got {params['part']!r}") from None
    if sorted(model.input_names) != sorted(params["inputs"]):
        raise ManifestError(f"{model.source}: manifest field 'params.translator.inputs': expected the model's "
                            f"inputs {sorted(model.input_names)}, got {params['inputs']}")
    return params, part


class Translator(ModelTask):
    task = "generic"

    def __init__(self, model: Model, decoder: Model | None = None):
        """``model``: the whole translator, or its encoder with ``decoder`` its decoder."""
        params, part = _params(model)
        if decoder is None and part is not Part.WHOLE:
            raise ManifestError(f"{model.source}: {part.described} alone; expected the whole translator, or the "
                                "encoder with decoder= the decoder")
        if decoder is not None:
            if part is not Part.ENCODER:
                raise ManifestError(f"{model.source}: {part.described}; expected the encoder when decoder= is given")
            decoder_params, decoder_part = _params(decoder)
            if decoder_part is not Part.DECODER:
                raise ManifestError(f"decoder: {decoder.source}: {decoder_part.described}; expected the decoder")
            if any(decoder_params[k] != params[k] for k in ("source", "target")):
                raise ManifestError(f"decoder: {decoder.source}: its tokenizers differ from {model.source}'s: the "
                                    "halves of two different translators")
        self.source = WordTokenizer.from_dict(params["source"], model.source)
        self.target = WordTokenizer.from_dict(params["target"], model.source)
        vocabulary = self.target.vocabulary
        if START not in vocabulary or END not in vocabulary:
            raise ManifestError(f"{model.source}: the target vocabulary lacks {START} or {END}")
        self.start, self.end = vocabulary.index(START) + 2, vocabulary.index(END) + 2
        self.model, self.decoder = model, decoder
        self._inputs = params["inputs"] if decoder is None else decoder_params["inputs"]

    @classmethod
    def from_file(cls, source: ModelSource, decoder: ModelSource | None = None, device: str | Profile | None = "auto",
                  threads: int | None = None):
        """One file (the whole translator), or the encoder's file with ``decoder`` the decoder's."""
        model = Model(source, device=device, threads=threads)
        try:
            return cls(model, None if decoder is None else Model(decoder, device=device, threads=threads))
        except Exception:
            model.close()
            raise

    def close(self) -> None:
        super().close()
        if self.decoder is not None:
            self.decoder.close()

    def translate(self, texts: str | Iterable[str]) -> str | list[str]:
        """The translation of one text, or of each of several (decoded together, a step for all at once)."""
        one = isinstance(texts, str)
        batch = [texts] if one else list(texts)
        if not batch:
            raise InputError("texts: expected at least one text, got none")
        source = self.source.encode(batch)
        first, second = self._inputs  # (source or memory, target so far)
        if self.decoder is None:
            out = self.model.output_names[0]

            def next_word(target, t):
                return self.model.run({first: source, second: target}, validate=False)[out][:, t]
        else:
            memory = self.model.run({self.model.input_names[0]: source}, validate=False)[self.model.output_names[0]]
            out = self.decoder.output_names[0]

            def next_word(target, t):
                return self.decoder.run({first: memory, second: target}, validate=False)[out]

        ids = greedy(next_word, len(batch), self.target.length, self.start, self.end)
        words = words_of(ids, self.target, self.end)
        return words[0] if one else words
