"""Racewire's process edge: settings, app factory, auth, health and the command line."""
