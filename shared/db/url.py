"""Translate a libpq connection URL (as Neon's console gives it) into pg8000 arguments.

pg8000 takes keyword arguments and an ``ssl.SSLContext``; it rejects libpq's query
parameters. This module keeps libpq's meaning of each parameter, refuses anything it
cannot honour, and never puts the password in a message. What the TLS parameters do
when connecting is ``shared.db.tls``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from shared.core.errors import ConfigurationError

ChannelBinding = Literal["disable", "prefer", "require"]
SslNegotiation = Literal["postgres", "direct"]

EXPECTED_SHAPE = (
    "postgresql://<user>:<password>@<endpoint>-pooler.<region>.aws.neon.tech/<database>"
    "?sslmode=require&channel_binding=require"
)
_SCHEMES = frozenset({"postgresql", "postgres"})
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_STRICT_SSLMODES = ("require", "verify-ca", "verify-full")
_SUPPORTED_PARAMS = frozenset(
    {"sslmode", "sslnegotiation", "sslrootcert", "sslcert", "sslkey", "channel_binding"}
    | {"connect_timeout", "application_name"}
)
_NEON_DOMAIN = ".neon.tech"
_POOLER_SUFFIX = "-pooler"


@dataclass(frozen=True)
class ConnectParams:
    """Everything needed to open one pg8000 connection; the repr hides the password."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    sslmode: str = "prefer"
    sslnegotiation: SslNegotiation = "postgres"
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    channel_binding: ChannelBinding = "prefer"
    connect_timeout: float | None = None
    application_name: str | None = None

    @property
    def is_neon(self) -> bool:
        """Neon endpoints serve publicly trusted certificates (shared.db.tls verifies them)."""
        return self.host.endswith(_NEON_DOMAIN)

    @property
    def is_neon_pooler(self) -> bool:
        return self.is_neon and self.host.split(".", 1)[0].endswith(_POOLER_SUFFIX)

    def direct(self) -> ConnectParams:
        """The same endpoint without Neon's ``-pooler`` suffix: a session-capable connection."""
        if not self.is_neon_pooler:
            return self
        label, rest = self.host.split(".", 1)
        return replace(self, host=f"{label.removesuffix(_POOLER_SUFFIX)}.{rest}")

    def redacted(self) -> str:
        """A URL safe for logs: everything but the password."""
        return f"postgresql://{quote(self.user)}:***@{self.host}:{self.port}/{self.database}"


def parse_database_url(url: str | None, *, name: str = "DATABASE_URL") -> ConnectParams:
    """Parse and check a PostgreSQL URL; every failure names ``name`` and the expected shape."""
    if url is None or not url.strip():
        raise _config_error(name, "is not set")
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise _config_error(name, "must be a PostgreSQL URL (postgresql:// or postgres://)")
    try:
        port = parts.port or 5432
    except ValueError:
        raise _config_error(name, "has an invalid port") from None
    if not parts.hostname or not parts.username or parts.password is None:
        raise _config_error(name, "must include a user, a password and a host")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise _config_error(name, "must name one database after the host")
    params = ConnectParams(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password),
        database=database,
    )
    return _apply_query(params, parts.query, name)


def _apply_query(params: ConnectParams, query: str, name: str) -> ConnectParams:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _config_error(name, "has a malformed query string") from None
    options = dict(pairs)
    unknown = sorted(set(options) - _SUPPORTED_PARAMS)
    if unknown:
        supported = ", ".join(sorted(_SUPPORTED_PARAMS))
        raise _config_error(name, f"has unsupported parameter(s) {unknown}; use {supported}")
    return replace(
        params,
        sslmode=_choice(options, "sslmode", _SSLMODES, params.sslmode, name),
        sslnegotiation=_sslnegotiation(options, name),
        channel_binding=_channel_binding(options, name),
        sslrootcert=options.get("sslrootcert") or None,
        sslcert=options.get("sslcert") or None,
        sslkey=options.get("sslkey") or None,
        connect_timeout=_timeout(options.get("connect_timeout"), name),
        application_name=options.get("application_name") or None,
    )


def _choice(
    options: dict[str, str], key: str, allowed: tuple[str, ...], default: str, name: str
) -> str:
    value = options.get(key, default)
    if value not in allowed:
        raise _config_error(name, f"{key} must be one of {', '.join(allowed)}")
    return value


def _channel_binding(options: dict[str, str], name: str) -> ChannelBinding:
    value = _choice(options, "channel_binding", ("disable", "prefer", "require"), "prefer", name)
    if value == "require" and options.get("sslmode") in ("disable", "allow"):
        raise _config_error(name, "channel_binding=require needs sslmode=require or stricter")
    return "require" if value == "require" else "disable" if value == "disable" else "prefer"


def _sslnegotiation(options: dict[str, str], name: str) -> SslNegotiation:
    value = _choice(options, "sslnegotiation", ("postgres", "direct"), "postgres", name)
    if value != "direct":
        return "postgres"
    # libpq 17: TLS first leaves no way to fall back to plaintext, so only strict modes.
    if options.get("sslmode", "prefer") not in _STRICT_SSLMODES:
        raise _config_error(
            name, "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full"
        )
    return "direct"


def _timeout(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise _config_error(name, "connect_timeout must be a number of seconds") from None
    # libpq: zero or negative means "wait forever"; we never do, so fall back to settings.
    return seconds if seconds > 0 else None


def _config_error(name: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{name} {problem}. Expected shape: {EXPECTED_SHAPE}")
