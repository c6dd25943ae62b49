"""Configuration: embedded defaults, environment over TOML file, one line per problem.

The conftest clears every ``LEASESYNC_…`` variable and points ``LEASESYNC_DATA_DIR``
at the test's own folder; tests that need a variable set it with ``monkeypatch``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from leasesync.config import (
    SECRET_KEY_FILE,
    Settings,
    SettingsError,
    load_settings,
    normalise_database_url,
)


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(config_file: Path | None = None) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file)
    return caught.value.problems


# --- embedded defaults -------------------------------------------------------------


def test_defaults_need_no_file_and_keep_everything_in_the_data_directory(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"

    settings = load_settings()

    assert settings.data_dir == data
    assert settings.database_url == f"sqlite:///{data}/leasesync.sqlite3"
    assert settings.outbox_dir == data / "outbox"
    assert settings.mail.backend == "outbox"
    assert settings.devices.backend == "simulated"
    assert settings.doors.backend == "simulated"
    assert settings.worker == "embedded"
    assert settings.log_format == "text"
    assert settings.base_url == "http://127.0.0.1:8000"


def test_the_default_data_directory_is_data_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEASESYNC_DATA_DIR")
    monkeypatch.chdir(tmp_path)

    assert load_settings().data_dir == tmp_path / "data"


def test_a_relative_data_directory_is_fixed_when_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEASESYNC_DATA_DIR", "state")

    settings = load_settings()
    monkeypatch.chdir(Path(os.sep))

    assert settings.data_dir == tmp_path / "state"


def test_the_embedded_secret_key_is_written_once_private_and_reused(
    tmp_path: Path,
) -> None:
    first = load_settings().secret_key.get_secret_value()
    second = load_settings().secret_key.get_secret_value()

    key_file = tmp_path / "data" / SECRET_KEY_FILE
    assert first == second == key_file.read_text(encoding="utf-8").strip()
    assert len(first) >= 32
    assert key_file.stat().st_mode & 0o077 == 0


def test_a_configured_secret_key_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEASESYNC_SECRET_KEY", "a-configured-key-of-some-length")

    assert load_settings().secret_key.get_secret_value() == (
        "a-configured-key-of-some-length"
    )
    assert not (tmp_path / "data" / SECRET_KEY_FILE).exists()


# --- database URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://app:pw@db:5432/leasesync",
            "postgresql+psycopg://app:pw@db:5432/leasesync",
        ),
        ("postgres://app@db/leasesync", "postgresql+psycopg://app@db/leasesync"),
        (
            "postgresql+psycopg://app@db/leasesync",
            "postgresql+psycopg://app@db/leasesync",
        ),
        ("sqlite:///relative.sqlite3", "sqlite:///relative.sqlite3"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_urls_are_normalised_to_the_installed_drivers(
    given: str, expected: str
) -> None:
    assert normalise_database_url(given) == expected


def test_a_nonsense_database_url_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", "nonsense://")

    (line,) = problems_of()

    assert line.startswith("LEASESYNC_DATABASE_URL: ")
    assert "nonsense" in line
    assert "\n" not in line


@pytest.mark.parametrize(
    "url", ["not a url", "mysql://root@localhost/db", "postgresql+psycopg2://u@h/d"]
)
def test_unusable_database_urls_are_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", url)

    (line,) = problems_of()

    assert line.startswith("LEASESYNC_DATABASE_URL: ")


def test_a_refused_url_does_not_repeat_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", "mysql://root:hunter2-secret@db/x")

    assert "hunter2-secret" not in " ".join(problems_of())


def test_procrastinate_needs_a_postgresql_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_WORKER", "procrastinate")

    (line,) = problems_of()
    assert line.startswith("LEASESYNC_WORKER: ")

    monkeypatch.setenv("LEASESYNC_PROCRASTINATE_DATABASE_URL", "postgresql://q@h/jobs")
    settings = load_settings()
    assert settings.procrastinate_conninfo == "postgresql://q@h/jobs"
    assert settings.is_sqlite


# --- problems, one line each ---------------------------------------------------------


def test_every_problem_gets_its_own_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", "nonsense://")
    monkeypatch.setenv("LEASESYNC_LOG_FORMAT", "xml")
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_PORT", "seventy")
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_PASWORD", "typo")

    lines = problems_of()

    assert sorted(line.split(":")[0] for line in lines) == [
        "LEASESYNC_DATABASE_URL",
        "LEASESYNC_LOG_FORMAT",
        "LEASESYNC_MAIL__SMTP_PASWORD",
        "LEASESYNC_MAIL__SMTP_PORT",
    ]
    assert all("\n" not in line for line in lines)


def test_both_kinds_of_tls_at_once_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_TLS", "true")

    (line,) = problems_of()

    assert line.startswith("LEASESYNC_MAIL__SMTP_TLS: ")


# --- secrets -----------------------------------------------------------------------


def test_secrets_never_show_in_repr_str_dumps_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LEASESYNC_SECRET_KEY", "secret-key-value-0123456789")
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_PASSWORD", "smtp-password-value")
    monkeypatch.setenv("LEASESYNC_DEVICES__MQTT_PASSWORD", "mqtt-password-value")
    monkeypatch.setenv(
        "LEASESYNC_DATABASE_URL", "postgresql://app:db-password-value@h/d"
    )

    settings = load_settings()
    with caplog.at_level(logging.INFO):
        logging.getLogger("leasesync.test").info("Settings: %s %r", settings, settings)
    shown = " ".join(
        [repr(settings), str(settings), settings.model_dump_json(), caplog.text]
    )

    for secret in ("secret-key-value", "smtp-password-value", "mqtt-password-value"):
        assert secret not in shown
    assert "db-password-value" not in repr(settings) + str(settings) + caplog.text
    assert settings.mail.smtp_password is not None
    assert settings.mail.smtp_password.get_secret_value() == "smtp-password-value"


# --- the TOML file -------------------------------------------------------------------


def test_a_toml_file_sets_values_and_nested_sections(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path / "leasesync.toml",
        'log_format = "json"\nbase_url = "https://sync.example.com/"\n'
        '[mail]\nbackend = "smtp"\nsmtp_host = "mail.example.com"\n'
        '[devices]\nbackend = "mqtt"\nmqtt_port = 8883\n',
    )

    settings = load_settings(config)

    assert settings.log_format == "json"
    assert settings.base_url == "https://sync.example.com"
    assert settings.mail.backend == "smtp"
    assert settings.mail.smtp_host == "mail.example.com"
    assert settings.devices.mqtt_port == 8883


def test_the_environment_names_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(tmp_path / "x.toml", 'log_level = "debug"\n')
    monkeypatch.setenv("LEASESYNC_CONFIG_FILE", str(config))

    assert load_settings().log_level == "DEBUG"


def test_the_environment_overrides_the_toml_file_value_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(
        tmp_path / "x.toml",
        'log_format = "json"\n[mail]\nbackend = "smtp"\nsmtp_host = "from-file"\n',
    )
    monkeypatch.setenv("LEASESYNC_LOG_FORMAT", "text")
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_HOST", "from-env")

    settings = load_settings(config)

    assert settings.log_format == "text"
    assert settings.mail.smtp_host == "from-env"
    assert settings.mail.backend == "smtp"


def test_a_bad_value_in_the_file_names_the_variable_and_the_file(
    tmp_path: Path,
) -> None:
    config = write_toml(
        tmp_path / "x.toml", '[mail]\nsmtp_port = "many"\nsmpt_host = 1\n'
    )

    lines = problems_of(config)

    assert sorted(lines) == [
        f"LEASESYNC_MAIL__SMPT_HOST: unknown setting (check its spelling)"
        f" (from mail.smpt_host in {config})",
        f"LEASESYNC_MAIL__SMTP_PORT: Input should be a valid integer, unable to parse"
        f" string as an integer (from mail.smtp_port in {config})",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("log_format = ", "not valid TOML"),
    ],
)
def test_a_missing_or_broken_file_is_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    config = tmp_path / "leasesync.toml"
    if content is not None:
        write_toml(config, content)

    (line,) = problems_of(config)

    assert line.startswith("LEASESYNC_CONFIG_FILE: ")
    assert expected in line
    assert str(config) in line


def test_settings_are_immutable() -> None:
    settings = Settings()

    with pytest.raises(ValueError, match="frozen"):
        settings.log_format = "json"  # type: ignore[misc]


def test_a_whole_section_that_is_not_json_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_MAIL", "smtp please")

    (line,) = problems_of()

    assert line.startswith("LEASESYNC_MAIL: ")


def test_an_unwritable_data_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("LEASESYNC_DATA_DIR", str(blocked / "data"))

    (line,) = problems_of()

    assert line.startswith("LEASESYNC_SECRET_KEY: ")
    assert str(blocked / "data") in line


def test_a_misspelt_variable_is_reported_not_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABSE_URL", "postgresql://db.internal/leasesync")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert caught.value.problems == ("LEASESYNC_DATABSE_URL: unknown setting",)
