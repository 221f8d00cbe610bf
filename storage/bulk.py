"""Many-row INSERTs through the driver. SQLAlchemy processes every parameter of every row of an
executemany in Python, which cost more than the database itself for storeOdds (profiled). Here
the statement is compiled once per dialect, each distinct value object is converted once by its
column's own processor (rows of one write share their datetimes), and the rows go straight to
the driver.

On PostgreSQL the rows go as one array per column into a single `INSERT … SELECT * FROM
unnest(…)`: an executemany runs the statement once per row, and that per-row executor start
was most of the database's time on a storeOdds batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import FromClause, Insert, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import dialect_insert, dialect_of

Processor = Callable[[Any], Any]
DialectInsert = postgresql.Insert | sqlite.Insert  # both have on_conflict_do_update / _do_nothing


class BulkInsert:
    def __init__(
        self,
        table: FromClause,
        columns: Sequence[str],
        *,
        finish: Callable[[DialectInsert], Insert] = lambda insert: insert,
    ) -> None:
        self._table = table
        self._columns = list(columns)
        self._finish = finish  # adds what the INSERT does on conflict, if anything
        self._compiled: dict[str, tuple[str, list[Processor | None]]] = {}

    async def run(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        dialect = dialect_of(session)
        sql, processors = self._compile(dialect)
        converted: dict[int, Any] = {}

        def driver(value: Any, processor: Processor | None) -> Any:
            if processor is None or value is None:
                return value
            if id(value) not in converted:
                converted[id(value)] = processor(value)
            return converted[id(value)]

        connection = await session.connection()
        if dialect.name == "postgresql":
            arrays = tuple(
                [driver(row[name], processor) for row in rows]
                for name, processor in zip(self._columns, processors, strict=True)
            )
            await connection.exec_driver_sql(sql, arrays)
        else:
            parameters = [
                tuple(driver(row[name], processor) for name, processor in zip(self._columns, processors, strict=True))
                for row in rows
            ]
            await connection.exec_driver_sql(sql, parameters)

    def _compile(self, dialect: Dialect) -> tuple[str, list[Processor | None]]:
        if dialect.name not in self._compiled:
            insert: DialectInsert = dialect_insert(dialect.name)(self._table)
            columns = [self._table.c[name] for name in self._columns]
            if dialect.name == "postgresql":
                arrays = [bindparam(c.name, type_=ARRAY(c.type)) for c in columns]
                insert = insert.from_select(
                    self._columns, select(literal_column("*")).select_from(func.unnest(*arrays))
                )
            else:
                insert = insert.values({c.name: bindparam(c.name) for c in columns})
            compiled = self._finish(insert).compile(dialect=dialect)
            assert list(compiled.positiontup or []) == self._columns
            processors: list[Processor | None] = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
            self._compiled[dialect.name] = (str(compiled), processors)
        return self._compiled[dialect.name]
