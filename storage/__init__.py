"""Racewire's storage: SQLAlchemy models, sessions, repositories and migrations."""
