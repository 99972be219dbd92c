"""The tasks edgeward knows: one line per task, its name and where its ``TaskSpec`` lives.

A spec's module is imported only when the task is looked up, so importing the registry (and the CLI)
stays light. The shared layers (CLI, export engine, compression, benchmark, report, demo) look a task up
here by name, usually the ``task`` of a training record or a manifest; they never branch on the name.
"""

from __future__ import annotations

import importlib

from edgeward.core.errors import InputError

TASKS = {
    "fraud": "edgeward.tasks.fraud.spec:FraudTask",
    "commands": "edgeward.tasks.commands.spec:CommandsTask",
    "detect": "edgeward.tasks.detect.spec:DetectTask",
    "classify": "edgeward.tasks.classify.spec:ClassifyTask",
    "generic": "edgeward.tasks.generic.spec:GenericTask",
}


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def get_task(name: str):
    """The task's spec (a ``TaskSpec``); an unknown name is an error that lists the known ones."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}: expected one of {', '.join(TASKS)}")
    module, _, attr = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), attr)()


def tasks_that(capability: str) -> tuple[str, ...]:
    """The tasks whose spec offers ``capability`` (``generate``, ``train``, ``adopt``, ``live``, ``tune``, ``score_file``,
    ``demo``)."""
    return tuple(name for name in TASKS if get_task(name).offers(capability))
