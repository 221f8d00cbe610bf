"""Strawberry's DateTime, refusing a time whose UTC instant falls outside the calendar (year 1
with a positive offset, year 9999 with a negative one): stored as UTC, it overflowed in the driver."""

from __future__ import annotations

import dataclasses
import datetime as dt

import dateutil.parser
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition


def _in_utc_range(text: str) -> dt.datetime:
    value = dateutil.parser.isoparse(text)
    if value.tzinfo is not None:
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("the time is out of range in UTC") from None
    return value


DATETIME: ScalarDefinition = dataclasses.replace(
    DateTimeDefinition, parse_value=wrap_parser(_in_utc_range, "DateTime", exceptions=(ValueError, OverflowError))
)
SCALAR_OVERRIDES = {dt.datetime: DATETIME}
