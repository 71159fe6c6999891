"""Mode selection and configuration errors: a bad setup fails loudly, not per user."""

from __future__ import annotations

import pytest

from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError, ConfigurationError
from shared.core.settings import get_settings
from tests.support.tokens import SECRET, settings

# A well-shaped token: with a valid configuration it fails as a 401, not a 500.
JUNK = "Bearer e30.e30.e30"


def test_nothing_configured_names_the_env_vars() -> None:
    # GIVEN no auth settings at all
    config = settings()
    # WHEN a request is authenticated
    with pytest.raises(ConfigurationError) as caught:
        authenticate(JUNK, config)
    # THEN the error tells the operator what to set
    for name in ("AUTH_JWKS_URL", "BETTER_AUTH_URL", "BETTER_AUTH_SECRET"):
        assert name in str(caught.value)


def test_configuration_is_checked_before_the_header() -> None:
    # GIVEN no auth settings and a request without credentials
    config = settings()
    # WHEN / THEN the misconfiguration is reported, not the missing header
    with pytest.raises(ConfigurationError):
        authenticate(None, config)


@pytest.mark.parametrize(
    "url",
    [
        "http://auth.example.com/api/auth/jwks",
        "http://10.0.0.5/api/auth/jwks",
        "http://localhost.evil.example/api/auth/jwks",
        "ftp://auth.example.com/jwks",
        "file:///etc/passwd",
        "/api/auth/jwks",
    ],
)
def test_insecure_jwks_url_is_a_configuration_error(url: str) -> None:
    # GIVEN a JWKS URL that is not https and not loopback
    config = settings(auth_jwks_url=url, auth_issuer="x", auth_audience="x")
    # WHEN / THEN it is refused
    with pytest.raises(ConfigurationError, match="https"):
        authenticate(JUNK, config)


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/api/auth/jwks",
        "http://127.0.0.1:3000/api/auth/jwks",
        "http://localhost:3000/api/auth/jwks",
        "http://[::1]:3000/api/auth/jwks",
    ],
)
def test_https_or_loopback_jwks_url_is_accepted(url: str) -> None:
    # GIVEN an https or loopback JWKS URL
    config = settings(auth_jwks_url=url, auth_issuer="x", auth_audience="x")
    # WHEN / THEN configuration passes and the junk token is the caller's problem
    with pytest.raises(AuthenticationError):
        authenticate(JUNK, config)


def test_plain_http_better_auth_url_is_refused_for_remote_hosts() -> None:
    # GIVEN BETTER_AUTH_URL over plain http to a remote host
    config = settings(better_auth_url="http://app.example.com")
    # WHEN / THEN the derived JWKS URL is refused
    with pytest.raises(ConfigurationError, match="https"):
        authenticate(JUNK, config)


@pytest.mark.parametrize("url", ["not a url", "app.example.com", "http://[::1"])
def test_malformed_better_auth_url_is_a_configuration_error(url: str) -> None:
    # GIVEN a BETTER_AUTH_URL that is not an absolute http(s) URL
    config = settings(better_auth_url=url)
    # WHEN / THEN it is refused
    with pytest.raises(ConfigurationError, match="BETTER_AUTH_URL"):
        authenticate(JUNK, config)


def test_jwks_url_alone_needs_issuer_and_audience() -> None:
    # GIVEN AUTH_JWKS_URL without BETTER_AUTH_URL, AUTH_ISSUER or AUTH_AUDIENCE
    config = settings(auth_jwks_url="https://auth.example.com/api/auth/jwks")
    # WHEN / THEN the operator is told which settings are missing
    with pytest.raises(ConfigurationError, match="AUTH_ISSUER and AUTH_AUDIENCE"):
        authenticate(JUNK, config)


@pytest.mark.parametrize("algorithms", ["HS256", "EdDSA,HS256", "none", "EdDSA,none", " , "])
def test_symmetric_or_none_algorithms_are_refused(algorithms: str) -> None:
    # GIVEN AUTH_ALGORITHMS that would allow HMAC, 'none', or nothing
    config = settings(better_auth_url="https://app.example.com", auth_algorithms=algorithms)
    # WHEN / THEN it is a configuration error
    with pytest.raises(ConfigurationError, match="AUTH_ALGORITHMS"):
        authenticate(JUNK, config)


def test_short_secret_is_refused() -> None:
    # GIVEN a shared secret shorter than 32 bytes
    config = settings(better_auth_secret="too-short")
    # WHEN / THEN it is a configuration error
    with pytest.raises(ConfigurationError, match="BETTER_AUTH_SECRET"):
        authenticate(JUNK, config)


def test_empty_values_count_as_unset() -> None:
    # GIVEN env vars present but empty, plus a usable secret
    config = settings(better_auth_url="", auth_jwks_url="", better_auth_secret=SECRET)
    # WHEN / THEN secret mode is chosen and the junk token is simply invalid
    with pytest.raises(AuthenticationError):
        authenticate(JUNK, config)


def test_settings_come_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the secret only in the environment, as on Lambda
    monkeypatch.setenv("BETTER_AUTH_SECRET", SECRET)
    config = settings()
    # WHEN / THEN secret mode is configured
    with pytest.raises(AuthenticationError):
        authenticate(JUNK, config)


@pytest.mark.parametrize("value", ["60", "0", "-1", "604801", "six hours"])
def test_an_out_of_range_stale_key_limit_is_a_startup_error(
    fresh_settings: pytest.MonkeyPatch, value: str
) -> None:
    # GIVEN AUTH_KEYS_MAX_STALE_SECONDS under the key set's 5 minute lifespan, over 7 days,
    # or not a number
    fresh_settings.setenv("AUTH_KEYS_MAX_STALE_SECONDS", value)
    # WHEN / THEN the settings fail to load, naming the variable
    with pytest.raises(ConfigurationError, match="AUTH_KEYS_MAX_STALE_SECONDS"):
        get_settings()
