"""Application configuration: where the data lives and how leasesync reaches the world.

Settings come from three places, the later ones yielding to the earlier: environment
variables (``LEASESYNC_…``, nested with ``__`` as in ``LEASESYNC_MAIL__SMTP_HOST``), an
optional TOML file (named by ``LEASESYNC_CONFIG_FILE`` or the CLI's ``--config``), and
the embedded defaults, which need neither: an SQLite file under ``./data``, mail into
an outbox folder, simulated devices and doors, and an in-process worker.

:func:`load_settings` is the one way in for the faces (CLI, server, worker). It turns
every invalid value into one line naming the environment variable that sets it, and
raises :class:`SettingsError` with those lines; the caller prints them and stops.
Secrets are :class:`~pydantic.SecretStr`, so neither ``repr`` nor ``str`` nor a
JSON dump ever shows them.

Per-property lifecycle settings are domain values, not configuration: see
:mod:`leasesync.domain.settings`.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydantic_settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from leasesync.domain.errors import NeedsHumanError

ENV_PREFIX = "LEASESYNC_"
CONFIG_FILE_VARIABLE = "LEASESYNC_CONFIG_FILE"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
DATABASE_FILE = "leasesync.sqlite3"

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_URL_HINT = "use sqlite:///PATH or postgresql://USER@HOST/DATABASE"
_MIN_SECRET_KEY_LENGTH = 16


class SettingsError(NeedsHumanError):
    """The configuration cannot start leasesync; ``problems`` has one line each."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    """A nested group of settings: immutable, and typos are errors, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class MailSettings(_Section):
    """How invites leave: files in an outbox folder, or an SMTP server.

    ``smtp_starttls`` upgrades a plain connection (port 587); ``smtp_tls`` speaks TLS
    from the first byte (port 465). ``outbox_dir`` defaults to ``<data_dir>/outbox``;
    read it through :attr:`Settings.outbox_dir`.
    """

    backend: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Path | None = None
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    from_address: str = "leasesync@localhost"

    @field_validator("smtp_tls")
    @classmethod
    def _one_kind_of_tls(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("smtp_starttls"):
            raise ValueError(
                "smtp_tls and smtp_starttls exclude each other; "
                "set smtp_starttls=false for implicit TLS (port 465)"
            )
        return value

    @field_validator("from_address")
    @classmethod
    def _looks_like_an_address(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("must be an e-mail address such as leasesync@example.com")
        return value


class DeviceSettings(_Section):
    """How device reconfigurations are delivered: the bundled simulator or MQTT."""

    backend: Literal["simulated", "mqtt"] = "simulated"
    simulated_delay_seconds: float = Field(default=2.0, ge=0)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_topic_prefix: str = "leasesync"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = False


class DoorSettings(_Section):
    """How access grants reach the doors."""

    # TODO(#6): an HTTP backend for access-control systems joins the simulator.
    backend: Literal["simulated"] = "simulated"


# NB: the TOML file's contents reach the settings source through this variable, so
# that :func:`load_settings` can name a different file on each call while the source
# order stays declared once, on the class.
_file_values: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "_file_values", default=None
)


class _FileSource(PydanticBaseSettingsSource):
    """The parsed TOML file, handed over whole so that unknown keys are reported."""

    def get_field_value(
        self, field: FieldInfo, field_name: str
    ) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


# NB: pydantic calls these two factories only when every field before them is valid,
# so ``data["data_dir"]`` is always there and already absolute.


def _default_database_url(data: dict[str, Any]) -> str:
    return f"sqlite:///{data['data_dir'] / DATABASE_FILE}"


class _SecretKeyUnavailableError(Exception):
    """The embedded secret key could neither be read nor written."""


def _embedded_secret_key(data: dict[str, Any]) -> SecretStr:
    """Read the data directory's secret key, creating it on first start."""
    data_dir: Path = data["data_dir"]
    try:
        return SecretStr(_read_or_create_secret(data_dir / SECRET_KEY_FILE))
    except OSError as exc:
        raise _SecretKeyUnavailableError(
            f"no secret key set and {data_dir}/{SECRET_KEY_FILE} is not usable "
            f"({exc.strerror or exc}); set it or make the data directory writable"
        ) from exc


def _read_or_create_secret(path: Path) -> str:
    # NB: O_EXCL makes two processes starting at once agree on one key: the loser
    # of the race reads the winner's file.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()

    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def normalise_database_url(value: str) -> str:
    """Check a database URL and give PostgreSQL the psycopg 3 driver.

    Raises ``ValueError`` with a message that never repeats the URL (it may hold a
    password).
    """
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL; {_URL_HINT}") from None

    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return url.render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        raise ValueError(f"driver {driver!r} is not installed; use postgresql://…")
    raise ValueError(f"unsupported database {backend!r}; {_URL_HINT}")


def redact_url(url: str) -> str:
    """The URL with its password, if any, shown as ``***``: safe to print or log."""
    return make_url(url).render_as_string(hide_password=True)


def _postgres_only(value: str) -> str:
    url = normalise_database_url(value)
    if not url.startswith("postgresql"):
        raise ValueError("procrastinate needs PostgreSQL: use postgresql://…")
    return url


class Settings(BaseSettings):
    """Everything one leasesync process needs to know before it starts.

    ``data_dir`` is made absolute when read, so a later change of working directory
    moves nothing. ``database_url`` defaults to an SQLite file in it, and a PostgreSQL
    URL always names the psycopg 3 driver. ``secret_key`` signs invite links and
    sessions; when it is not set, the first start writes a random one to
    ``<data_dir>/secret_key`` and later starts read it back.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Path("data")
    database_url: str = Field(default_factory=_default_database_url, repr=False)
    log_format: LogFormat = "text"
    log_level: LogLevel = "INFO"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = Field(default_factory=_embedded_secret_key)
    mail: MailSettings = MailSettings()
    devices: DeviceSettings = DeviceSettings()
    doors: DoorSettings = DoorSettings()
    procrastinate_database_url: str | None = Field(default=None, repr=False)
    worker: Literal["embedded", "procrastinate"] = "embedded"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http:// or https:// URL, e.g. https://example.com"
            )
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < _MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"must be at least {_MIN_SECRET_KEY_LENGTH} characters")
        return value

    @field_validator("procrastinate_database_url")
    @classmethod
    def _procrastinate_on_postgres(cls, value: str | None) -> str | None:
        return None if value is None else _postgres_only(value)

    @field_validator("worker")
    @classmethod
    def _worker_has_postgres(cls, value: str, info: ValidationInfo) -> str:
        database = info.data.get("database_url") or ""
        queue = info.data.get("procrastinate_database_url")
        if value == "procrastinate" and not (queue or database.startswith("postgres")):
            raise ValueError(
                "procrastinate needs PostgreSQL: use a postgresql:// database_url "
                "or set LEASESYNC_PROCRASTINATE_DATABASE_URL"
            )
        return value

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # NB: a database URL may carry a password, so repr and str show it hidden.
        yield from super().__repr_args__()
        yield "database_url", redact_url(self.database_url)
        if self.procrastinate_database_url is not None:
            yield (
                "procrastinate_database_url",
                redact_url(self.procrastinate_database_url),
            )

    @property
    def outbox_dir(self) -> Path:
        """Where the outbox mail backend writes messages."""
        return self.mail.outbox_dir or self.data_dir / "outbox"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def procrastinate_conninfo(self) -> str | None:
        """The libpq URL procrastinate connects to, if any (no SQLAlchemy driver)."""
        url = self.procrastinate_database_url or self.database_url
        if not url.startswith("postgresql"):
            return None
        return make_url(url).set(drivername="postgresql").render_as_string(False)


def load_settings(config_file: Path | None = None) -> Settings:
    """Read and check the settings: environment over TOML file over defaults.

    ``config_file`` wins over ``LEASESYNC_CONFIG_FILE``. Raises :class:`SettingsError`
    with one line per problem, each naming the environment variable that sets it.
    """
    source = config_file or _config_file_from_environment()
    file_values = _read_toml(source) if source is not None else {}
    unknown = _unknown_variables()
    if unknown:
        raise SettingsError(tuple(f"{name}: unknown setting" for name in unknown))

    with _file_values_set(file_values):
        try:
            return Settings()
        except ValidationError as exc:
            raise SettingsError(_problem_lines(exc, source, file_values)) from None
        except _SecretKeyUnavailableError as exc:
            raise SettingsError((f"{ENV_PREFIX}SECRET_KEY: {exc}",)) from None
        except pydantic_settings.SettingsError as exc:
            raise SettingsError((_unparsable_line(exc),)) from None


#: Variables with the prefix that steer something other than a process's settings.
NOT_SETTINGS = frozenset(
    {
        CONFIG_FILE_VARIABLE,
        "LEASESYNC_TEST_DATABASE_URL",
        "LEASESYNC_REQUIRE_POSTGRES",
        "LEASESYNC_REQUIRE_MQTT",
        "LEASESYNC_BENCH_DATABASE_URL",
    }
)


def _unknown_variables() -> list[str]:
    """``LEASESYNC_…`` variables naming no setting: a misspelling is not ignored."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    found = []
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS:
            continue
        if upper.split("__", 1)[0] not in known:
            found.append(name)
    return found


def _unparsable_line(error: Exception) -> str:
    """A whole section given as one variable whose value is not JSON."""
    found = re.search(r'field "(\w+)"', str(error))
    section = found.group(1).upper() if found else "…"
    return (
        f"{ENV_PREFIX}{section}: not valid JSON; set one value at a time instead, "
        f"as in {ENV_PREFIX}{section}__NAME"
    )


def _config_file_from_environment() -> Path | None:
    value = os.environ.get(CONFIG_FILE_VARIABLE, "").strip()
    return Path(value) if value else None


@contextmanager
def _file_values_set(values: dict[str, Any]) -> Iterator[None]:
    token = _file_values.set(values)
    try:
        yield
    finally:
        _file_values.reset(token)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        problem = f"{CONFIG_FILE_VARIABLE}: no such file: {path}"
    except OSError as exc:
        problem = f"{CONFIG_FILE_VARIABLE}: cannot read {path}: {exc.strerror or exc}"
    except tomllib.TOMLDecodeError as exc:
        problem = f"{CONFIG_FILE_VARIABLE}: {path} is not valid TOML: {exc}"
    except UnicodeDecodeError:
        problem = f"{CONFIG_FILE_VARIABLE}: {path} is not UTF-8 text"
    raise SettingsError((problem,))


def _problem_lines(
    error: ValidationError, source: Path | None, file_values: dict[str, Any]
) -> tuple[str, ...]:
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        if item["type"] == "default_factory_not_called":
            continue  # a consequence of another line, not a problem of its own
        keys = tuple(str(part) for part in item["loc"])
        variable = ENV_PREFIX + "__".join(keys).upper()
        message = _message(item["type"], item["msg"], item.get("ctx"))
        lines.append(f"{variable}: {message}{_file_hint(keys, source, file_values)}")
    return tuple(lines)


def _message(kind: str, text: str, context: dict[str, Any] | None) -> str:
    if kind == "value_error" and context and "error" in context:
        return str(context["error"])
    if kind == "extra_forbidden":
        return "unknown setting (check its spelling)"
    return text


def _file_hint(
    keys: tuple[str, ...], source: Path | None, file_values: dict[str, Any]
) -> str:
    """Say where the value came from when it was the TOML file, not the environment."""
    if source is None or (ENV_PREFIX + "__".join(keys)).upper() in _environment_names():
        return ""
    found: Any = file_values
    for key in keys:
        if not isinstance(found, dict) or key not in found:
            return ""
        found = found[key]
    return f" (from {'.'.join(keys)} in {source})"


def _environment_names() -> set[str]:
    return {name.upper() for name in os.environ}
