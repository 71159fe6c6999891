"""DATABASE_URL as Neon gives it: parsed, translated for pg8000, refused when wrong."""

from __future__ import annotations

import ssl
from urllib.parse import quote

import pytest

from shared.core.errors import ConfigurationError
from shared.db.tls import requires_tls, tls_context
from shared.db.url import parse_database_url

SECRET = "npg-placeholder-" + "Zq9" * 4
NEON = (
    f"postgresql://neondb_owner:{SECRET}@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech"
    "/neondb?sslmode=require&channel_binding=require"
)

_STRICT = ("require", "verify-ca", "verify-full")


def test_neon_console_url_is_understood() -> None:
    # GIVEN the pooled connection string as Neon's console shows it
    # WHEN it is parsed
    params = parse_database_url(NEON)
    # THEN every part is taken, libpq parameters are translated, none is passed on
    assert (params.user, params.password, params.database, params.port) == (
        "neondb_owner",
        SECRET,
        "neondb",
        5432,
    )
    assert (params.sslmode, params.channel_binding, params.is_neon_pooler) == (
        "require",
        "require",
        True,
    )


def test_neon_hosts_are_always_verified_even_with_sslmode_require() -> None:
    # GIVEN a Neon URL with sslmode=require (which alone would not verify in libpq)
    context = tls_context(parse_database_url(NEON))
    # THEN the certificate chain and the host name are checked
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_require_elsewhere_encrypts_without_verifying_like_libpq() -> None:
    context = tls_context(
        parse_database_url(f"postgres://u:{SECRET}@db.internal/app?sslmode=require")
    )
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("query", "tls", "required"),
    [("sslmode=disable", False, False), ("sslmode=prefer", True, False), ("", True, False)],
)
def test_sslmodes_keep_their_libpq_meaning(query: str, tls: bool, required: bool) -> None:
    # GIVEN a non-Neon URL with each of the sslmodes that do not verify
    params = parse_database_url(f"postgresql://u:{SECRET}@db.internal/app?{query}")
    # THEN TLS is tried unless disabled, and only "require" and stricter insist on it
    assert (tls_context(params) is not None, requires_tls(params)) == (tls, required)


@pytest.mark.parametrize(
    ("query", "negotiation"),
    [("", "postgres"), ("sslnegotiation=postgres", "postgres")]
    + [(f"sslmode={mode}&sslnegotiation=direct", "direct") for mode in _STRICT],
)
def test_sslnegotiation_keeps_its_libpq_meaning(query: str, negotiation: str) -> None:
    # GIVEN a URL with or without sslnegotiation (libpq's default is "postgres")
    params = parse_database_url(f"postgresql://u:{SECRET}@db.internal/app?{query}")
    # THEN direct TLS is chosen only when asked for, with sslmode=require or stricter
    assert params.sslnegotiation == negotiation


def test_direct_endpoint_is_derived_from_the_pooled_one() -> None:
    # GIVEN Neon's pooled host
    direct = parse_database_url(NEON).direct()
    # THEN the direct host is the same without -pooler, credentials kept
    assert direct.host == "ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech"
    assert direct.password == SECRET and not direct.is_neon_pooler


def test_percent_encoded_password_is_decoded() -> None:
    raw = "p@ss/w:rd"
    params = parse_database_url(f"postgresql://u:{quote(raw, safe='')}@h/db")
    assert params.password == raw


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("sqlite:///tasks.db", "must be a PostgreSQL URL"),
        (f"mysql://u:{SECRET}@h/db", "must be a PostgreSQL URL"),
        (f"postgresql://u:{SECRET}@h:notaport/db", "invalid port"),
        ("postgresql://h/db", "must include a user, a password and a host"),
        (f"postgresql://u:{SECRET}@h/", "must name one database"),
        (f"postgresql://u:{SECRET}@h/db?sslmode=sometimes", "sslmode must be one of"),
        (f"postgresql://u:{SECRET}@h/db?channel_binding=maybe", "channel_binding must be one of"),
        (f"postgresql://u:{SECRET}@h/db?pool=5", "unsupported parameter"),
        (f"postgresql://u:{SECRET}@h/db?connect_timeout=soon", "connect_timeout"),
        (f"postgresql://u:{SECRET}@h/db?sslmode=disable&channel_binding=require", "needs sslmode"),
        (f"postgresql://u:{SECRET}@h/db?sslnegotiation=tls", "sslnegotiation must be one of"),
        *(
            (f"postgresql://u:{SECRET}@h/db?{mode}sslnegotiation=direct", "sslnegotiation=direct")
            for mode in ("", "sslmode=disable&", "sslmode=allow&", "sslmode=prefer&")
        ),
    ],
)
def test_bad_urls_are_refused_clearly_without_the_password(url: str | None, problem: str) -> None:
    # WHEN a bad URL is parsed
    with pytest.raises(ConfigurationError) as caught:
        parse_database_url(url)
    # THEN the message names the variable, the problem and the expected shape, never the secret
    message = str(caught.value)
    assert message.startswith("DATABASE_URL ") and problem in message
    assert "Expected shape: postgresql://" in message
    assert SECRET not in message


def test_repr_and_redacted_form_hide_the_password() -> None:
    params = parse_database_url(NEON)
    assert SECRET not in repr(params) and SECRET not in params.redacted()
    assert params.redacted().startswith("postgresql://neondb_owner:***@ep-cool-darkness")
