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
