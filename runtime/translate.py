"""``Translator``: text in one language to text in another, from an encoder-decoder model decoded greedily.

Model contract: two int32 inputs of (N, L): the source's word ids and the target's so far (``<start>`` first,
padding after); one output (N, L, V): at each position, the probabilities of the next target word.
``manifest.params["translator"]`` holds the two ``WordTokenizer``s (the target's vocabulary has ``<start>`` and
``<end>``) and the input names. The whole model runs once a step, the encoder with it: fine for sentences of a
few words; a model split into encoder and decoder would run the encoder once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from edgeward.core.errors import InputError, ManifestError
from edgeward.devices import Profile
from edgeward.runtime.model import Model, ModelSource, ModelTask
from edgeward.runtime.text import PAD, WordTokenizer

START, END = "<start>", "<end>"


def greedy(step: Callable[[np.ndarray, np.ndarray], np.ndarray], source_ids: np.ndarray, start: int, end: int) -> np.ndarray:
    """(N, L) target ids, decoded greedily: ``step(source, target so far)`` gives (N, L, V) next-word
    probabilities; each sentence stops at its ``end`` id (kept), the rest is padding. Training measures its model
    with this same loop."""
    n, length = source_ids.shape
    target = np.full((n, length), PAD, np.int32)
    target[:, 0] = start
    done = np.zeros(n, bool)
    for t in range(length - 1):
        nxt = np.asarray(step(source_ids, target))[:, t].argmax(-1).astype(np.int32)
        target[:, t + 1] = np.where(done, PAD, nxt)
        done |= nxt == end
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


class Translator(ModelTask):
    task = "generic"

    def __init__(self, model: Model):
        params = model.manifest.params.get("translator")
        if not isinstance(params, dict) or not {"source", "target", "inputs"} <= set(params):
            raise ManifestError(f"{model.source}: manifest field 'params.translator' is missing or lacks source, target, "
                                "inputs: not a translation model")
        self.source = WordTokenizer.from_dict(params["source"], model.source)
        self.target = WordTokenizer.from_dict(params["target"], model.source)
        self._src, self._tgt = params["inputs"]
        if sorted(model.input_names) != sorted((self._src, self._tgt)):
            raise ManifestError(f"{model.source}: manifest field 'params.translator.inputs': expected the model's "
                                f"inputs {sorted(model.input_names)}, got {params['inputs']}")
        vocabulary = self.target.vocabulary
        if START not in vocabulary or END not in vocabulary:
            raise ManifestError(f"{model.source}: the target vocabulary lacks {START} or {END}")
        self.start, self.end = vocabulary.index(START) + 2, vocabulary.index(END) + 2
        self.model = model

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None):
        return cls(Model(source, device=device, threads=threads))

    def translate(self, texts: str | Iterable[str]) -> str | list[str]:
        """The translation of one text, or of each of several (decoded together, a step for all at once)."""
        one = isinstance(texts, str)
        batch = [texts] if one else list(texts)
        if not batch:
            raise InputError("texts: expected at least one text, got none")
        out_name = self.model.output_names[0]

        def step(src, tgt):
            return self.model.run({self._src: src, self._tgt: tgt}, validate=False)[out_name]

        ids = greedy(step, self.source.encode(batch), self.start, self.end)
        words = words_of(ids, self.target, self.end)
        return words[0] if one else words
