"""Brings a database to the newest schema with Alembic, from code or the command line."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from storage.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x72616365  # any constant shared by every Racewire process


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, alembic_config(database.url))


def _upgrade(connection: Connection, config: Config) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes starting at once migrate one after another, not into each other.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
