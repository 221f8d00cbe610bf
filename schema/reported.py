"""Figures as a refusal or the cost report gives them to a client."""

from __future__ import annotations

REPORTED_MAX = 2**53 - 1  # the largest integer every JSON client reads exactly


def reported(figure: int) -> int:
    return min(figure, REPORTED_MAX)
