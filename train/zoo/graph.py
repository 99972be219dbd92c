"""Row 6 of the zoo, the article's GNN: a custom ``GraphConv`` layer over node features and an adjacency matrix,
classifying nodes; and graphs to learn on, from a stochastic block model.

``GraphConv`` computes ``activation(A_hat @ X @ W + b)`` with matrix products only, so it exports to ONNX and
TFLite as standard ops. ``A_hat`` is the normalised adjacency (``runtime.graph.normalise_adjacency``), computed
outside the model by training and the runtime alike. The layer class is made for the Keras module it is given
(``graph_conv``), so that importing this module loads no TensorFlow; ``LAYER_FILE`` is the custom-objects file
that makes a saved model loadable elsewhere (``edgeward export --custom-objects``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edgeward.runtime.tasks.graph import normalise_adjacency

FEATURES_NAME, ADJACENCY_NAME = "features", "adjacency"
# what the runtime's GraphModel reads from the manifest: which input is which, and how training normalised
RUNTIME_PARAMS = {"graph": {"features": FEATURES_NAME, "adjacency": ADJACENCY_NAME, "normalise": "symmetric"}}
# the custom-objects file written beside a saved GNN: it defines GraphConv for whoever loads the model
LAYER_FILE = '''"""GraphConv, the zoo GNN's custom layer, for loading its saved model."""
from edgeward.core.keras_env import tf_keras
from edgeward.train.zoo.graph import graph_conv

GraphConv = graph_conv(tf_keras())
'''


@lru_cache(maxsize=None)
def graph_conv(keras):
    """The ``GraphConv`` layer class for this Keras module (registered, so a saved model names it)."""

    @keras.utils.register_keras_serializable(package="edgeward")
    class GraphConv(keras.layers.Layer):
        """activation(A_hat X W + b): each node's new features are its neighbours' (and its own) mixed, then mapped."""

        def __init__(self, units: int, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):
            features = int(input_shape[0][-1])
            self.kernel = self.add_weight(name="kernel", shape=(features, self.units), initializer="glorot_uniform")
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            super().build(input_shape)

        def call(self, inputs):
            x, a = inputs
            k = keras.backend
            # X W on the rows of all graphs at once, as a 2-D product: TFLite's int8 FULLY_CONNECTED takes no 3-D input
            n, features = x.shape[1], x.shape[2]
            h = k.reshape(k.dot(k.reshape(x, (-1, features)), self.kernel), (-1, n, self.units))
            return self.activation(a @ h + self.bias)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "activation": keras.activations.serialize(self.activation)}

    return GraphConv


def build_gnn(keras, nodes: int, features: int, classes: int, hidden: int = 16):
    """Two GraphConv layers (hidden ReLU, then softmax per node) over (N, F) features and an (N, N) adjacency."""
    GraphConv = graph_conv(keras)
    x = keras.Input(shape=(nodes, features), name=FEATURES_NAME)
    a = keras.Input(shape=(nodes, nodes), name=ADJACENCY_NAME)
    h = GraphConv(hidden, activation="relu", name="graph_conv1")([x, a])
    h = keras.layers.Dropout(0.2)(h)
    out = GraphConv(classes, activation="softmax", name="graph_conv2")([h, a])
    return keras.Model([x, a], out, name="gnn")


def block_graphs(graphs: int, nodes: int, classes: int, features: int, seed: int) -> dict[str, np.ndarray]:
    """Stochastic block model graphs: each node in one of ``classes`` communities, an edge within a community with
    probability 0.25 and across with 0.02; each node's features are its community's centre plus noise strong enough
    that the features alone mislead often (the graph has to be used). Returns features (B, N, F), adjacency
    (B, N, N, raw 0/1), labels (B, N) and the community centres (C, F)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(777).normal(size=(classes, features))  # fixed across seeds: one task
    y = rng.integers(0, classes, (graphs, nodes))
    same = y[:, :, None] == y[:, None, :]
    upper = np.triu(rng.random((graphs, nodes, nodes)) < np.where(same, 0.25, 0.02), 1)
    adjacency = (upper | upper.transpose(0, 2, 1)).astype(np.float32)
    x = (centres[y] + rng.normal(scale=2.5, size=(graphs, nodes, features))).astype(np.float32)
    return {FEATURES_NAME: x, ADJACENCY_NAME: adjacency, "labels": y, "centres": centres}


def community_labels(classes: int) -> tuple[str, ...]:
    return tuple(f"community-{i}" for i in range(classes))


def model_inputs(graphs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the model takes: the features, and the adjacency normalised as the runtime normalises it."""
    return {FEATURES_NAME: graphs[FEATURES_NAME], ADJACENCY_NAME: normalise_adjacency(graphs[ADJACENCY_NAME])}
