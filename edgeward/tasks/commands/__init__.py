"""The commands task: its spec, and its own benchmark, report section and demo steps."""
