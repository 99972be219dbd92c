"""The served models: each with its name in URLs and its batcher, loaded from ``NAME=PATH`` or ``PATH``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgeward.core.errors import InputError
from edgeward.runtime.model import Model
from edgeward.runtime.serve.batcher import DynamicBatcher


@dataclass
class Served:
    """One served model: its name in URLs, the model, and its batcher."""

    name: str
    model: Model
    batcher: DynamicBatcher | None = field(default=None, repr=False)  # made by build_app


def load_models(specs: list[str], options) -> list[Served]:
    """``NAME=PATH`` or ``PATH`` (named after its task, or its file when the task's name is taken)."""
    served: list[Served] = []
    for spec in specs:
        name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        model = Model(path, device=options.device, threads=options.threads)
        if not name:
            name = model.manifest.task if all(s.name != model.manifest.task for s in served) else Path(path).stem
        if any(s.name == name for s in served):
            raise InputError(f"serve: two models named {name!r}; name them: NAME=PATH")
        served.append(Served(name, model))
    return served


def one_of(served: list[Served], task: str, name: str | None, who: str = "this server") -> Served:
    """The served model of ``task`` that a task endpoint (or a source) uses: the one named, or the only one."""
    found = [s for s in served if s.model.manifest.task == task and (name is None or s.name == name)]
    if len(found) != 1:
        what = f"{task} model named {name!r}" if name else f"{task} model"
        hint = "; say which with ?model=NAME" if len(found) > 1 else ""
        raise InputError(f"{who}: {'no' if not found else 'more than one'} {what} among the served models "
                         f"({', '.join(s.name for s in served)}){hint}")
    return found[0]
