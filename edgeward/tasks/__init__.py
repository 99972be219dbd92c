"""The tasks: one plug-in per task (its ``TaskSpec`` in ``spec.py``, registered in ``edgeward.core.registry``),
with the task's own benchmark, report section and demo steps beside it. A task's data, training and
runtime live in its layers' folders (``edgeward.train.TASK``, ``edgeward.runtime``); the spec ties them
together for the shared layers. ``docs/architecture.md`` says how to add one."""
