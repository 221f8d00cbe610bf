"""Settings read from the environment: every field's type, the text conventions (booleans, comma
lists), and a bad value stopping the start with the variable's name and the type it wants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.settings import (
    DEV_JWT_SECRET,
    PREFIX,
    STARTUP_FAILURE,
    InvalidSettings,
    Settings,
    expected,
    load_or_exit,
)

ROOT = Path(__file__).resolve().parents[2]
FIELDS = Settings.model_fields


def as_text(value: Any) -> str:
    """A value written as an operator would write it in the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


@pytest.mark.parametrize("name", [name for name, field in FIELDS.items() if field.default is not None])
def test_every_default_reads_back_from_its_variable(name: str) -> None:
    default = FIELDS[name].default
    text = as_text(default)
    read = Settings.from_env({PREFIX + name.upper(): text})
    assert getattr(read, name) == default and type(getattr(read, name)) is type(default), (name, text)


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_field_has_a_type_the_environment_can_say(name: str) -> None:
    # A field of another type needs its wording here, and docs/configuration.md its form.
    assert expected(FIELDS[name].annotation) in {
        "a boolean (true/false, 1/0, yes/no, on/off)",
        "an integer",
        "a number",
        "a string",
        "a comma-separated list",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        (" on ", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("OFF", False),
        ("", False),
    ],
)
def test_booleans_take_the_documented_words(text: str, value: bool) -> None:
    assert Settings.from_env({"RACEWIRE_DEMO": text}).demo is value
    assert Settings.from_env({"RACEWIRE_GRAPHIQL": text}).graphiql is value  # the three-valued kind


def test_an_unset_three_valued_setting_follows_production() -> None:
    assert Settings().graphiql is None and Settings().graphiql_enabled
    assert not Settings.from_env({"RACEWIRE_PRODUCTION": "true"}).graphiql_enabled


def test_lists_are_comma_separated_without_blanks() -> None:
    read = Settings.from_env(
        {"RACEWIRE_CORS_ORIGINS": " https://a.example , https://b.example,,", "RACEWIRE_JWT_ALGORITHMS": "RS256"}
    )
    assert read.cors_origins == ("https://a.example", "https://b.example")
    assert read.jwt_algorithms == ("RS256",)
    assert Settings.from_env({"RACEWIRE_WS_ORIGINS": ""}).ws_origins == ()


def test_numbers_and_strings() -> None:
    read = Settings.from_env(
        {
            "RACEWIRE_PORT": "8123",
            "RACEWIRE_JWT_LEEWAY_SECONDS": "2.5",
            "RACEWIRE_SHUTDOWN_GRACE_SECONDS": "3",
            "RACEWIRE_JWT_SECRET": "",
        }
    )
    assert (read.port, read.jwt_leeway_seconds, read.shutdown_grace_seconds) == (8123, 2.5, 3.0)
    assert read.jwt_secret == ""  # an empty string is a value, not the default


@pytest.mark.parametrize(
    ("variable", "text", "wanted"),
    [
        ("RACEWIRE_PORT", "eighty", "an integer"),
        ("RACEWIRE_PORT", "80.5", "an integer"),
        ("RACEWIRE_MAX_PAGE_SIZE", "", "an integer"),
        ("RACEWIRE_JWT_LEEWAY_SECONDS", "soon", "a number"),
        ("RACEWIRE_DEMO", "maybe", "a boolean (true/false, 1/0, yes/no, on/off)"),
        ("RACEWIRE_INTROSPECTION", "perhaps", "a boolean (true/false, 1/0, yes/no, on/off)"),
    ],
)
def test_a_bad_value_names_its_variable_and_the_type_it_wants(variable: str, text: str, wanted: str) -> None:
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env({variable: text})
    assert str(refused.value) == f"{variable}={text!r} is not {wanted}"
    assert isinstance(refused.value, ValueError)


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env({"RACEWIRE_PORT": "x", "RACEWIRE_FANOUT": "sometimes", "RACEWIRE_HOST": "0.0.0.0"})
    assert "RACEWIRE_PORT='x'" in str(refused.value) and "RACEWIRE_FANOUT='sometimes'" in str(refused.value)
    assert "HOST" not in str(refused.value)


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env({"RACEWIRE_PORT": "9" * 30 + "x" * 500})
    assert str(refused.value).startswith("RACEWIRE_PORT='999") and len(str(refused.value)) < 150


def test_settings_without_the_environment_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACEWIRE_PORT", "9123")
    monkeypatch.setenv("RACEWIRE_TEST_POSTGRES", "postgresql://elsewhere/db")  # a tool's variable, not a setting
    assert Settings().port == 8000 and Settings(port=1).port == 1
    assert Settings.from_env().port == 9123
    assert Settings.from_env(port=9200).port == 9200  # an override wins over the environment
    assert Settings.from_env({}).port == 8000 and Settings().jwt_secret == DEV_JWT_SECRET


def test_settings_are_frozen_and_refuse_unknown_names() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1
    assert settings.port == 8000 and hash(settings) == hash(Settings()) and settings == Settings()
    with pytest.raises(InvalidSettings, match="'prot' is not a setting"):
        Settings(prot=1)
    with pytest.raises(InvalidSettings, match=r"RACEWIRE_PORT=1\.5 is not an integer"):
        Settings(port=1.5)


def test_load_or_exit_stops_on_a_bad_value_and_on_a_refused_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_or_exit({"RACEWIRE_PORT": "8001"}).port == 8001
    with pytest.raises(SystemExit) as stopped:
        load_or_exit({"RACEWIRE_PORT": "eighty"})
    assert stopped.value.code == STARTUP_FAILURE
    assert capsys.readouterr().err == "racewire: RACEWIRE_PORT='eighty' is not an integer\n"
    with pytest.raises(SystemExit) as stopped:
        load_or_exit({"RACEWIRE_PRODUCTION": "true"})
    assert stopped.value.code == STARTUP_FAILURE and "no way to check tokens" in capsys.readouterr().err


def test_serve_with_a_bad_value_exits_at_once_naming_it() -> None:
    env = {**os.environ, "RACEWIRE_WS_COMPRESSION": "gzip", "RACEWIRE_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == STARTUP_FAILURE
    assert done.stderr == (
        "racewire: RACEWIRE_WS_COMPRESSION='gzip' is not a boolean (true/false, 1/0, yes/no, on/off)\n"
    )
