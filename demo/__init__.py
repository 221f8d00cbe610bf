"""Clients of the use cases: a deterministic day of demo racing and the simulated price feed."""
