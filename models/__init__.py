"""The released models (package data): see edgeward.runtime.catalogue and `edgeward models list`."""
