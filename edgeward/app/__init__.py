"""The application layer: the command line, the demo and the HTML report. May import every other layer."""
