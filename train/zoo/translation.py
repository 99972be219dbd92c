"""Row 8 of the zoo, the article's encoder-decoder Transformer for translation: two int inputs of length 50 (the
source, and the target so far), a vocabulary of 10000 (``--full``; the corpus's own at test sizes), softmax over
the target vocabulary at every position; and a parallel corpus with real structure: numbers from 0 to 999,999
written out in English and in German word order, where the units come before the tens ("two and forty") and the
thousands' group is said whole first.

The test numbers are never drawn in training (a held-out set), so the model must learn the reordering, not the
pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeward.runtime.tasks.text import PAD

LENGTH, WIDTH, HEADS = 50, 64, 4
SOURCE_NAME, TARGET_NAME, MEMORY_NAME = "source", "target", "memory"

_EN_UNITS = "zero one two three four five six seven eight nine".split()
_EN_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_DE_UNITS = "null eins zwei drei vier fuenf sechs sieben acht neun".split()
_DE_TEENS = "zehn elf zwoelf dreizehn vierzehn fuenfzehn sechzehn siebzehn achtzehn neunzehn".split()
_DE_TENS = "_ _ zwanzig dreissig vierzig fuenfzig sechzig siebzig achtzig neunzig".split()


def english(n: int) -> str:
    def below_thousand(k: int) -> list[str]:
        words = []
        if k >= 100:
            words += [_EN_UNITS[k // 100], "hundred"]
            k %= 100
            if k:
                words.append("and")
        if k >= 20:
            words.append(_EN_TENS[k // 10])
            if k % 10:
                words.append(_EN_UNITS[k % 10])
        elif k >= 10:
            words.append(_EN_TEENS[k - 10])
        elif k or not words:
            words.append(_EN_UNITS[k])
        return words

    if n < 1000:
        return " ".join(below_thousand(n))
    rest = n % 1000
    words = below_thousand(n // 1000) + ["thousand"]
    if rest:
        words += (["and"] if rest < 100 else []) + below_thousand(rest)
    return " ".join(words)


def german(n: int) -> str:
    """German word order, one token per word part: 42 is "zwei und vierzig", 1,042 "ein tausend zwei und vierzig"."""

    def below_thousand(k: int, one: str = "eins") -> list[str]:
        words = []
        if k >= 100:
            words += [("ein" if k // 100 == 1 else _DE_UNITS[k // 100]), "hundert"]
            k %= 100
        if k >= 20:
            if k % 10:
                words += ["ein" if k % 10 == 1 else _DE_UNITS[k % 10], "und"]
            words.append(_DE_TENS[k // 10])
        elif k >= 10:
            words.append(_DE_TEENS[k - 10])
        elif k == 1:
            words.append(one)
        elif k or not words:
            words.append(_DE_UNITS[k])
        return words

    if n < 1000:
        return " ".join(below_thousand(n))
    rest = n % 1000
    return " ".join(below_thousand(n // 1000, one="ein") + ["tausend"] + (below_thousand(rest) if rest else []))


def number_pairs(n: int, seed: int, held_out: bool = False) -> tuple[list[str], list[str]]:
    """``n`` (English, German) pairs. Numbers whose value is 7 modulo 11 are held out: ``held_out`` draws only
    them, training never does. Half the draws are below 1,000, where most of the word-order rules live."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    while len(out) < n:
        k = int(rng.integers(0, 1000)) if rng.random() < 0.5 else int(rng.integers(1000, 1_000_000))
        if (k % 11 == 7) == held_out:
            out.append(k)
    return [english(k) for k in out], [german(k) for k in out]


@dataclass(frozen=True)
class TranslatorModels:
    """Three Keras models over one set of layers: ``whole`` is the article's (trained), ``encoder`` and
    ``decoder`` its halves for the device, so a sentence runs the encoder once and the decoder a step a word."""

    whole: Any  # [source, target so far] -> (N, L, V): the next word's probabilities at every position
    encoder: Any  # source -> memory (N, L, width)
    decoder: Any  # [memory, target so far] -> (N, V): the next word's probabilities after the last word given


def build_translator(keras, source_vocabulary: int, target_vocabulary: int, length: int = LENGTH, width: int = WIDTH,
                     heads: int = HEADS) -> TranslatorModels:
    """One encoder block (self-attention, feed-forward) and one decoder block (causal self-attention,
    cross-attention to the encoder, feed-forward), each sublayer with a residual and LayerNormalization; learned
    positions; the decoder's softmax over the target vocabulary. The decoder half reads its position from the
    target itself (the last id that is not padding), so it needs no third input."""
    from edgeward.core.keras_env import tensorflow

    tf = tensorflow()
    L = keras.layers

    def positions(ids):
        # from the ids themselves (ops on the inputs, not constants: a constant in a functional model is saved as a
        # list and breaks loading)
        return tf.math.cumsum(tf.ones_like(ids), axis=1) - 1

    def embedder(vocabulary, name):
        tokens = L.Embedding(vocabulary, width, name=f"{name}_tokens")
        where = L.Embedding(length, width, name=f"{name}_positions")
        return lambda ids: tokens(ids) + where(positions(ids))

    def block(name, cross: bool):
        attend = L.MultiHeadAttention(heads, width // heads, name=f"{name}_self")
        norms = [L.LayerNormalization(epsilon=1e-6, name=f"{name}_norm{i}") for i in (1, 2, 3)]
        crossing = L.MultiHeadAttention(heads, width // heads, name=f"{name}_cross") if cross else None
        ff1, ff2 = L.Dense(2 * width, activation="relu", name=f"{name}_ff1"), L.Dense(width, name=f"{name}_ff2")

        def apply(x, memory=None, mask=None):
            x = norms[0](x + attend(x, x, attention_mask=mask))
            if crossing is not None:
                x = norms[1](x + crossing(x, memory))
            return norms[2](x + ff2(ff1(x)))

        return apply

    source_embed, source_block = embedder(source_vocabulary, "encoder"), block("encoder", cross=False)
    target_embed, target_block = embedder(target_vocabulary, "decoder"), block("decoder", cross=True)
    head = L.Dense(target_vocabulary, activation="softmax", name="next_token")

    def encode(src):
        return source_block(source_embed(src))

    def decode(memory, tgt):
        where = positions(tgt)
        causal = tf.cast(where[:, None, :] <= where[:, :, None], "float32")  # [b, q, k]: k at or before q
        return target_block(target_embed(tgt), memory=memory, mask=causal)

    def source_input():
        return keras.Input(shape=(length,), dtype="int32", name=SOURCE_NAME)

    def target_input():
        return keras.Input(shape=(length,), dtype="int32", name=TARGET_NAME)

    src, tgt = source_input(), target_input()
    whole = keras.Model([src, tgt], head(decode(encode(src), tgt)), name="translator")
    src = source_input()
    encoder = keras.Model(src, encode(src), name="translator_encoder")
    memory, tgt = keras.Input(shape=(length, width), name=MEMORY_NAME), target_input()
    # tf.math calls, not == or != on the tensors: the operators do not load back from a .keras file
    last = tf.reduce_sum(tf.cast(tf.math.not_equal(tgt, PAD), "int32"), axis=1, keepdims=True) - 1
    at_last = tf.cast(tf.math.equal(positions(tgt), last), "float32")  # (N, L): one at the last word given
    step = tf.reduce_sum(decode(memory, tgt) * at_last[:, :, None], axis=1)
    decoder = keras.Model([memory, tgt], head(step), name="translator_decoder")
    return TranslatorModels(whole, encoder, decoder)
