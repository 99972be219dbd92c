"""Graph models: the adjacency matrix as a graph convolution takes it (shared by training and the runtime), and
``GraphModel``, which runs a node classifier on raw graphs."""

from __future__ import annotations

import numpy as np

from edgeward.core.errors import ManifestError, TensorError
from edgeward.devices import Profile
from edgeward.runtime.engine.model import Model, ModelSource, ModelTask


def normalise_adjacency(adjacency: np.ndarray) -> np.ndarray:
    """Kipf and Welling's renormalisation: D^-1/2 (A + I) D^-1/2, for one graph (N, N) or a batch (B, N, N).

    Self-loops keep each node's own features in the sum; the symmetric scaling keeps a node of many neighbours
    from swamping one of few. Training and the runtime both call this, so the two cannot drift."""
    a = np.asarray(adjacency, dtype=np.float32)
    if a.ndim not in (2, 3) or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"adjacency: expected a square (N, N) matrix or a batch (B, N, N), got shape {a.shape}")
    a = a + np.eye(a.shape[-1], dtype=np.float32)
    scale = 1.0 / np.sqrt(a.sum(-1))
    return (a * scale[..., :, None] * scale[..., None, :]).astype(np.float32)


NORMALISATIONS = ("symmetric", "none")  # symmetric: normalise_adjacency; none: the model takes the matrix as given


class GraphModel(ModelTask):
    """A graph model of node features and an adjacency matrix, each node given a class.

    Model contract: two inputs, the node features (N, nodes, F) and the adjacency (N, nodes, nodes); one output,
    per-node class probabilities (N, nodes, C) in ``manifest.labels`` order (default: their numbers).
    ``manifest.params["graph"]`` names the inputs and how training normalised the adjacency: ``{"features": NAME,
    "adjacency": NAME, "normalise": "symmetric"}``. The caller passes the raw 0/1 (or weighted) adjacency; the
    runtime normalises it as training did, with the same function.
    """

    task = "generic"

    def __init__(self, model: Model):
        graph = model.manifest.params.get("graph")
        if not isinstance(graph, dict):
            raise ManifestError(f"{model.source}: manifest field 'params.graph' is missing: not a graph model "
                                "(adopt it with --params naming its features and adjacency inputs)")
        names = {t.name: t for t in model.manifest.inputs}
        for key in ("features", "adjacency"):
            if graph.get(key) not in names:
                raise ManifestError(f"{model.source}: manifest field 'params.graph.{key}': expected one of the model's "
                                    f"inputs {sorted(names)}, got {graph.get(key)!r}")
        if graph.get("normalise", "symmetric") not in NORMALISATIONS:
            raise ManifestError(f"{model.source}: manifest field 'params.graph.normalise': expected one of "
                                f"{', '.join(NORMALISATIONS)}, got {graph.get('normalise')!r}")
        self.model = model
        self._features, self._adjacency = graph["features"], graph["adjacency"]
        self.normalise = graph.get("normalise", "symmetric")
        self.nodes = names[self._adjacency].shape[-1]
        classes = model.manifest.outputs[0].shape[-1]
        self.labels = tuple(model.manifest.labels) or tuple(str(i) for i in range(classes or 0))

    @classmethod
    def from_file(cls, source: ModelSource, device: str | Profile | None = "auto", threads: int | None = None):
        return cls(Model(source, device=device, threads=threads))

    def probabilities(self, features: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
        """Per-node class probabilities: (nodes, C) for one graph ((nodes, F), (nodes, nodes)), (N, nodes, C) for
        a batch of graphs."""
        x, a = np.asarray(features, np.float32), np.asarray(adjacency, np.float32)
        one = x.ndim == 2
        if one:
            x, a = x[None], a[None]
        if a.ndim != 3 or a.shape[1:] != (self.nodes, self.nodes):
            raise TensorError(f"adjacency: expected shape ({self.nodes}, {self.nodes}) or (N, {self.nodes}, {self.nodes}), "
                              f"got {np.shape(adjacency)}")
        if x.ndim != 3 or len(x) != len(a):
            raise TensorError(f"features: expected shape ({self.nodes}, F) or (N, {self.nodes}, F) for "
                              f"{len(a)} graph(s), got {np.shape(features)}")
        if self.normalise == "symmetric":
            a = normalise_adjacency(a)
        out = self.model.run({self._features: x, self._adjacency: a})[self.model.output_names[0]]
        return out[0] if one else out

    def classify(self, features: np.ndarray, adjacency: np.ndarray) -> list[str] | list[list[str]]:
        """Each node's most likely class name (a list per graph for a batch)."""
        ids = self.probabilities(features, adjacency).argmax(-1)
        if ids.ndim == 1:
            return [self.labels[i] for i in ids]
        return [[self.labels[i] for i in row] for row in ids]
