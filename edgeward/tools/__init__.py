"""The maintainers' tools, behind one entry point (``python -m edgeward.tools TOOL``; the Makefile's targets):
rebuilding the released models (``release``), the long soak, the runtime on aarch64 under emulation
(``arm64-check``), the dependency audit, what a detection frame costs around the model (``bench-pipeline``), the GPU
check, and the tiny runs that the tests, the soak and the arm64 check build (``tiny_models``).

Not part of the installed package (``pyproject.toml`` leaves it out of the wheel): a user's install needs none of
it, and nothing outside ``edgeward.tools`` and the tests imports it."""
