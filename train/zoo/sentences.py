"""Row 4 of the zoo, the article's Transformer encoder classifier: Embedding 5000x64, multi-head attention (4
heads), residual and LayerNormalization, feed-forward; and sentences to learn from: a home assistant's requests,
each intent said in many ways.

The test sentences fill the templates with rooms, times, artists, people and cities that training never drew, and
half of them carry openings and closings training never saw: the model must read the request, not the names.
"""

from __future__ import annotations

import numpy as np

VOCABULARY, WIDTH, HEADS, LENGTH = 5000, 64, 4, 24
INPUT_NAME = "tokens"

INTENTS = {
    "lights_on": ["turn on the lights in the {room}", "switch the {room} lights on", "lights on in the {room}",
                  "can you put the {room} light on", "make it bright in the {room}", "i need light in the {room}"],
    "lights_off": ["turn off the lights in the {room}", "switch the {room} lights off", "lights off in the {room}",
                   "kill the light in the {room}", "make it dark in the {room}", "no more light in the {room}"],
    "set_timer": ["set a timer for {time}", "start a {time} timer", "remind me in {time}", "count down {time}",
                  "wake me up in {time}", "give me a timer of {time}"],
    "weather": ["what is the weather in {city}", "will it rain in {city} today", "how cold is it in {city}",
                "is it sunny in {city}", "weather forecast for {city}", "do i need an umbrella in {city}"],
    "play_music": ["play some {artist}", "put on {artist}", "i want to hear {artist}", "play music by {artist}",
                   "start playing {artist} in the {room}", "let's listen to {artist}"],
    "call": ["call {person}", "phone {person} for me", "ring {person}", "get {person} on the phone",
             "dial {person} please", "i want to talk to {person}"],
    "volume_up": ["turn it up", "louder please", "raise the volume", "volume up in the {room}",
                  "make the music louder", "i can't hear it, turn the volume up"],
    "volume_down": ["turn it down", "quieter please", "lower the volume", "volume down in the {room}",
                    "make the music quieter", "it's too loud, turn the volume down"],
}
SLOTS = {  # (training values, test values): the test's are never drawn in training
    "room": (["kitchen", "bedroom", "living room", "hallway", "office", "garage", "bathroom", "attic"],
             ["nursery", "study", "basement", "porch", "dining room"]),
    "time": (["five minutes", "ten minutes", "an hour", "twenty seconds", "half an hour", "two hours", "90 seconds"],
             ["three minutes", "forty minutes", "45 seconds", "a quarter of an hour"]),
    "city": (["paris", "london", "berlin", "madrid", "oslo", "tokyo", "lima", "cairo", "boston"],
             ["rome", "dublin", "seoul", "nairobi", "quito"]),
    "artist": (["the beatles", "mozart", "adele", "miles davis", "abba", "bach", "nina simone", "queen"],
               ["bob marley", "chopin", "beyonce", "coldplay"]),
    "person": (["mum", "dad", "anna", "the office", "tom", "my sister", "dr smith", "grandma"],
               ["uncle joe", "maria", "the plumber", "my brother"]),
}
OPENINGS = (["", "", "", "hey, ", "please ", "could you ", "ok so ", "quick one: "],
            ["excuse me, ", "right, ", "would you kindly "])
CLOSINGS = (["", "", "", " please", " thanks", " now", " right away"],
            [" cheers", " if you can", " asap"])
LABELS = tuple(INTENTS)


def build_text_encoder(keras, classes: int, vocabulary: int = VOCABULARY, width: int = WIDTH, heads: int = HEADS):
    """Ids (N, L), any L: embedding, one encoder block (4-head self-attention and a feed-forward, each with a
    residual and LayerNormalization), the mean over positions, softmax over the classes."""
    L = keras.layers
    ids = keras.Input(shape=(None,), dtype="int32", name=INPUT_NAME)
    x = L.Embedding(vocabulary, width, name="embedding")(ids)
    attended = L.MultiHeadAttention(num_heads=heads, key_dim=width // heads, name="attention")(x, x)
    x = L.LayerNormalization(epsilon=1e-6, name="norm1")(x + attended)
    ff = L.Dense(width, name="ff2")(L.Dense(2 * width, activation="relu", name="ff1")(x))
    x = L.LayerNormalization(epsilon=1e-6, name="norm2")(x + ff)
    x = L.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(ids, L.Dense(classes, activation="softmax", name="intent")(x), name="text_encoder")


def requests(n: int, seed: int, unseen: bool = False) -> tuple[list[str], np.ndarray]:
    """``n`` requests and their intent ids. ``unseen``: slot values training never draws, and half the openings
    and closings from a held-out list."""
    rng = np.random.default_rng(seed)
    side = 1 if unseen else 0
    texts, labels = [], rng.integers(0, len(LABELS), n)
    for label in labels:
        template = INTENTS[LABELS[label]][rng.integers(len(INTENTS[LABELS[label]]))]
        fills = {k: v[side][rng.integers(len(v[side]))] for k, v in SLOTS.items()}
        pick = 1 if unseen and rng.random() < 0.5 else 0
        opening = OPENINGS[pick][rng.integers(len(OPENINGS[pick]))]
        closing = CLOSINGS[pick][rng.integers(len(CLOSINGS[pick]))]
        texts.append(opening + template.format(**fills) + closing)
    return texts, labels
