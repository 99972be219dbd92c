"""The released models (package data): see edgeward.runtime.engine.catalogue and `edgeward models list`."""
