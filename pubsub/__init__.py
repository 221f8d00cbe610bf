"""Live delivery: channel names, the event envelope and the per-process fan-out hub."""
