"""The lowest layer: errors, the manifest, the run directory, configuration checks, the task protocol
and the registry of tasks. Imports nothing else of edgeward, and nothing heavy."""
