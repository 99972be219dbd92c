"""One entry point for the maintainers' tools: ``python -m edgeward.tools TOOL [options]`` (the Makefile's targets
call it; ``python -m edgeward.tools --help`` lists them). Each tool's module gives ``add_arguments(parser)`` and
``run(args) -> exit code``; its docstring is its help."""

from __future__ import annotations

import argparse
import importlib
import sys

# the command name -> the module in edgeward.tools (imported only when its tool runs)
TOOLS = {
    "release": "release",
    "soak": "soak",
    "arm64-check": "arm64_check",
    "audit": "audit",
    "bench-pipeline": "pipeline_bench",
    "gpu-check": "gpu_check",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m edgeward.tools", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="tool", required=True, metavar="TOOL")
    for name, module in TOOLS.items():
        mod = importlib.import_module(f"edgeward.tools.{module}")
        summary = " ".join((mod.__doc__ or name).strip().split("\n\n")[0].split())
        p = sub.add_parser(name, help=summary.split(". ")[0].rstrip(".") + ".", description=summary)
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
