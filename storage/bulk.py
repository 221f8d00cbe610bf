"""Many-row INSERTs through the driver. SQLAlchemy processes every parameter of every row of an
executemany in Python, which cost more than the database itself for storeOdds (profiled). Here
the statement is compiled once per dialect, each distinct value object is converted once by its
column's own processor (rows of one write share their datetimes), and the rows go straight to
the driver's executemany."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Processor = Callable[[Any], Any]


class BulkInsert:
    def __init__(self, build: Callable[[str], Insert]) -> None:
        self._build = build  # dialect name -> the INSERT, with a bindparam for each column it sets
        self._compiled: dict[str, tuple[str, list[tuple[str, Processor | None]]]] = {}

    async def run(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        sql, columns = self._compile(session.bind.dialect)
        converted: dict[int, Any] = {}

        def driver(value: Any, processor: Processor | None) -> Any:
            if processor is None or value is None:
                return value
            if id(value) not in converted:
                converted[id(value)] = processor(value)
            return converted[id(value)]

        parameters = [tuple(driver(row[name], processor) for name, processor in columns) for row in rows]
        connection = await session.connection()
        await connection.exec_driver_sql(sql, parameters)

    def _compile(self, dialect: Dialect) -> tuple[str, list[tuple[str, Processor | None]]]:
        if dialect.name not in self._compiled:
            compiled = self._build(dialect.name).compile(dialect=dialect)
            columns = [(name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                       for name in compiled.positiontup or []]
            self._compiled[dialect.name] = (str(compiled), columns)
        return self._compiled[dialect.name]
