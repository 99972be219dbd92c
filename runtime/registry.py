"""The task runtimes by ``manifest.task``, and what each can be fed.

A service (batch, serve, the parity check across machines) looks a model's runtime class up here by the task its
manifest names and asks what it can do; it never branches on the name. A runtime class (a ``ModelTask``) says what
it takes in ``feeds``; one that takes image files answers ``image_result(image)`` with the columns of
``result_columns`` (``no_result`` for an image that cannot be read); ``serve_routes`` are its own server routes and
``parity_feed``/``parity_results``/``parity_compare`` its part of the parity check. A class's module is imported
only when its task is looked up, so the registry stays light.
"""

from __future__ import annotations

import importlib
from enum import Enum


class Feed(str, Enum):
    """What a task runtime can be fed."""

    ROWS = "rows"  # tabular rows: CSV and Parquet files (batch), JSON requests
    IMAGES = "images"  # image files, one result each (batch)
    VIDEO = "video"  # a live video source: a camera, a URL, a video file
    AUDIO = "audio"  # a live audio source: a microphone, a WAV file


RUNTIMES = {
    "fraud": "edgeward.runtime.tasks.fraud:FraudScorer",
    "commands": "edgeward.runtime.tasks.commands:CommandRecognizer",
    "detect": "edgeward.runtime.tasks.detect:Detector",
    "classify": "edgeward.runtime.tasks.classify:Classifier",
}


def runtime_class(task: str):
    """The runtime class of ``task`` (a ``ModelTask``), or None for a task with no runtime of its own (``generic``)."""
    if task not in RUNTIMES:
        return None
    module, _, attr = RUNTIMES[task].partition(":")
    return getattr(importlib.import_module(module), attr)


def feeds(task: str) -> frozenset[Feed]:
    """What ``task``'s runtime takes (nothing for a task without one)."""
    cls = runtime_class(task)
    return cls.feeds if cls is not None else frozenset()


def serve_routes() -> list[tuple[str, str, object]]:
    """Every task's own server routes (its runtime class's ``serve_routes``): (task, path, handler)."""
    routes = []
    for task in RUNTIMES:
        for path, target in runtime_class(task).serve_routes.items():
            module, _, attr = target.partition(":")
            routes.append((task, path, getattr(importlib.import_module(module), attr)))
    return routes


def fed(feed: Feed) -> tuple[str, ...]:
    """The tasks whose runtime takes ``feed``."""
    return tuple(task for task in RUNTIMES if feed in feeds(task))


def options_types(*taking: Feed) -> tuple[type, ...]:
    """The options dataclasses of the runtimes that take any of ``taking`` (each once): a service's flags for the
    runtimes it may run (``serve``'s live sources)."""
    found = []
    for task in RUNTIMES:
        cls = runtime_class(task)
        if cls.feeds & set(taking) and cls.options_type is not None and cls.options_type not in found:
            found.append(cls.options_type)
    return tuple(found)
