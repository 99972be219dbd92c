"""Row 5 of the zoo, the article's GAN on 28x28 digits: a generator from 100-d noise (LeakyReLU inside, tanh
out) and a discriminator, trained against each other on the classification task's ``digits``.

Only the generator ships (``runtime.generate.Generator``). Its quality is judged cheaply by the toolkit's own
digit classifier (the classification task trained on the same digits): the share of samples it recognises with
confidence, beside the share for the untrained generator's samples.
"""

from __future__ import annotations

import numpy as np

NOISE, INPUT_NAME = 100, "noise"
RANGE = (-1.0, 1.0)  # the generator's pixel values (tanh), written into the manifest for the runtime


def build_generator(keras, noise: int = NOISE):
    L = keras.layers
    z = keras.Input(shape=(noise,), name=INPUT_NAME)
    x = L.Dense(7 * 7 * 64, use_bias=False, name="project")(z)
    x = L.LeakyReLU(0.2)(L.BatchNormalization(name="project_bn")(x))
    x = L.Reshape((7, 7, 64))(x)
    x = L.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False, name="up1")(x)  # 14x14
    x = L.LeakyReLU(0.2)(L.BatchNormalization(name="up1_bn")(x))
    image = L.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", name="image")(x)  # 28x28, -1..1
    return keras.Model(z, image, name="generator")


def build_discriminator(keras):
    L = keras.layers
    image = keras.Input(shape=(28, 28, 1), name="image")
    x = L.LeakyReLU(0.2)(L.Conv2D(32, 4, strides=2, padding="same", name="down1")(image))
    x = L.LeakyReLU(0.2)(L.Conv2D(64, 4, strides=2, padding="same", name="down2")(x))
    x = L.Dropout(0.3)(L.Flatten()(x))
    return keras.Model(image, L.Dense(1, activation="sigmoid", name="real")(x), name="discriminator")


def train_gan(keras, images: np.ndarray, epochs: int, batch: int = 64, progress: bool = False, seed: int = 0):
    """The generator after ``epochs`` adversarial passes over ``images`` ((N, 28, 28, 1) in -1..1): each step the
    discriminator learns real (label 0.9: one-sided smoothing) from fake, then the generator learns to fool it."""
    from tqdm import tqdm

    from edgeward.core.keras_env import tensorflow

    tf = tensorflow()
    keras.utils.set_random_seed(seed)
    generator, discriminator = build_generator(keras), build_discriminator(keras)
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy()

    @tf.function
    def step(real):
        z = tf.random.normal((tf.shape(real)[0], NOISE))
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(z, training=True)
            p_real, p_fake = discriminator(real, training=True), discriminator(fake, training=True)
            d_loss = bce(tf.fill(tf.shape(p_real), 0.9), p_real) + bce(tf.zeros_like(p_fake), p_fake)
            g_loss = bce(tf.ones_like(p_fake), p_fake)
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
        return d_loss, g_loss

    rng = np.random.default_rng(seed)
    bar = tqdm(range(epochs), desc="training gan", unit="epoch", disable=not progress, leave=False)
    for _ in bar:
        order = rng.permutation(len(images))
        for i in range(0, len(order) - batch + 1, batch):
            d_loss, g_loss = step(tf.constant(images[order[i:i + batch]]))
        bar.set_postfix(d=f"{float(d_loss):.3f}", g=f"{float(g_loss):.3f}")
    return generator


def to_gan(images_rgb: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28, 3) grey digits -> (N, 28, 28, 1) in -1..1, what the generator learns to make."""
    return (images_rgb[..., :1].astype(np.float32) / 127.5 - 1.0).astype(np.float32)
