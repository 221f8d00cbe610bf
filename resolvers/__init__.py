"""Racewire's use cases: reads with DataLoaders, store-commit-publish writes, live streams."""
