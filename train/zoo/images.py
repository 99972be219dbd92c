"""Rows 2 and 10 of the zoo, the article's image CNNs, as the classification task builds them (``--arch``):

- ``article-cnn``: the CIFAR-10 CNN: two blocks of Conv2D (32, then 64; 3x3, ReLU) and 2x2 MaxPooling, Flatten,
  Dense 64, softmax over the classes; on the classification task's ``objects`` (32x32x3, 10 classes).
- ``nodule-cnn``: the lung-nodule CNN: three such blocks (32, 64, 128) at 128x128x3, Flatten, Dense 128, dropout,
  softmax over clear and nodule; on the task's ``nodules`` class folders, with its augmentation.
"""

from __future__ import annotations


def build_article_cnn(keras, size: int, n_classes: int, widths: tuple[int, ...] = (32, 64), dense: int = 64,
                      dropout: float = 0.0, seed: int = 0, name: str = "article_cnn", input_name: str = "image"):
    L = keras.layers
    inputs = keras.Input(shape=(size, size, 3), name=input_name)
    x = inputs
    for i, width in enumerate(widths):
        x = L.Conv2D(width, 3, activation="relu", name=f"conv{i}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(dense, activation="relu", name="dense")(x)
    if dropout:
        x = L.Dropout(dropout, seed=seed)(x)
    return keras.Model(inputs, L.Dense(n_classes, activation="softmax", name="probabilities")(x), name=name)


def build_nodule_cnn(keras, size: int, n_classes: int, seed: int = 0, input_name: str = "image"):
    return build_article_cnn(keras, size, n_classes, widths=(32, 64, 128), dense=128, dropout=0.5, seed=seed,
                             name="nodule_cnn", input_name=input_name)
