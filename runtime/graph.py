"""Graph preprocessing shared by training and the runtime: the adjacency matrix as a graph convolution takes it."""

from __future__ import annotations

import numpy as np


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
