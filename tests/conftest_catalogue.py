"""For tests that run the CLI in a process of its own: point the catalogue at a test folder of released models
(the `released_fraud` fixture's), as the fixture does in the test's own process."""

from pathlib import Path


def use(root: str) -> None:
    from edgeward.runtime.engine import catalogue

    catalogue.catalogue_dir = lambda: Path(root)
    catalogue.catalogue.cache_clear()
