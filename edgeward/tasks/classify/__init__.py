"""The classify task: its spec, and its own benchmark, report section and demo steps."""
