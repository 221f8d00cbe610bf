"""Racewire's GraphQL schema: Strawberry types and the root operations, thin and declarative."""
