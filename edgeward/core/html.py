"""Pieces of the offline HTML report: tables, embedded images and inline SVG plots (no CDN, no script)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

escape = html.escape


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    text = str(value)
    numeric = bool(text) and text.replace(",", "").replace(".", "").split(" ")[0].lstrip("-").rstrip("x").isdigit()
    return f"<td class='n'>{escape(text)}</td>" if numeric else f"<td>{escape(text)}</td>"


def plots(items: list[str]) -> str:
    """Plots (SVG or images) side by side."""
    return '<div class="plots">' + "".join(items) + "</div>"


def image(path: Path, alt: str) -> str:
    mime = "image/gif" if path.suffix == ".gif" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{mime};base64,{data}" alt="{escape(alt)}" style="max-width:100%">'


def pyplot():
    """matplotlib's pyplot on the Agg backend (no screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def svg(fig) -> str:
    """A matplotlib figure as inline SVG; the figure is closed."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def confusion_plot(matrix: list[list[int]], labels, true_name: str, title: str) -> str:
    """A confusion matrix (rows: the truth, called ``true_name``; columns: predicted) as counts over the share
    of each row."""
    import numpy as np

    plt = pyplot()
    m = np.asarray(matrix, dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5.2))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel=true_name, title=title)
    return svg(fig)
