"""The browser origins CORS allows (``FRONTEND_ORIGIN``), checked where they are set.

An origin is what a browser sends in ``Origin``: ``scheme://host[:port]``, nothing after.
``http://localhost:3000/`` (a trailing slash, as an address bar shows it) never equals
what a browser sends, so every request from it would fail CORS without a word: the slash
is dropped here; a path, query or fragment, user info or a scheme other than http(s) is
refused with a message naming the variable. Several origins are comma-separated (a
frontend on localhost and in production). ``*`` and ``*`` inside a host are API Gateway's
wildcards and kept.

Read by the local gateway (infra/local/gateway/cors.py) when ``make run`` starts, and by
the osls plugin before anything is packaged or deployed (infra/serverless/plugin.js runs
``python -m infra.serverless.origins VALUE...``: a JSON list of the origins on stdout, or
the message on stderr and exit status 2), so serverless.yml's ``allowedOrigins`` and the
local gateway always hold the same list.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable

__all__ = ["VARIABLE", "OriginError", "origins_of", "parse_origins"]

VARIABLE = "FRONTEND_ORIGIN"  # serverless.yml's params.default.frontendOrigin
SHAPE = "an origin is scheme://host[:port], e.g. http://localhost:3000; several: comma-separated"
_ORIGIN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)")
# A DNS name (API Gateway's * wildcard allowed) or a bracketed IPv6 address, then a port.
_HOST = r"[A-Za-z0-9*](?:[A-Za-z0-9*.-]*[A-Za-z0-9*])?|\[[0-9A-Fa-f:.]+\]"
_AUTHORITY = re.compile(rf"(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?")


class OriginError(ValueError):
    """A value that is not a list of origins; the message names the variable and the fix."""


def parse_origins(value: str, variable: str = VARIABLE) -> tuple[str, ...]:
    """The origins in ``value`` (comma-separated), normalised: lower case, no trailing slash."""
    items = [item.strip() for item in value.split(",")]
    if not any(items):
        raise OriginError(f"{variable} is set but empty: unset it for the default; {SHAPE}")
    return tuple(dict.fromkeys(_origin(item, variable) for item in items if item))


def _origin(item: str, variable: str) -> str:
    if item == "*":
        return item
    match = _ORIGIN.fullmatch(item)
    if match is None:
        raise _refused(item, variable, "no scheme://")
    scheme, authority, rest = match["scheme"].lower(), match["authority"], match["rest"]
    if scheme not in ("http", "https"):
        raise _refused(item, variable, f"the scheme is {scheme}, not http or https")
    if rest not in ("", "/"):
        raise _refused(item, variable, f"it has a path, query or fragment ({rest!r})")
    found = _AUTHORITY.fullmatch(authority)
    if found is None or (found["port"] is not None and not 0 < int(found["port"]) < 65536):
        raise _refused(item, variable, f"{authority!r} is not host[:port]")
    return f"{scheme}://{authority.lower()}"


def _refused(item: str, variable: str, why: str) -> OriginError:
    return OriginError(f"{variable}: {item!r} is not an origin: {why}; {SHAPE}")


def origins_of(values: Iterable[str], variable: str = VARIABLE) -> tuple[str, ...]:
    """Every origin of several values (serverless.yml's resolved allowedOrigins), once each."""
    return tuple(dict.fromkeys(o for value in values for o in parse_origins(value, variable)))


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.serverless.origins VALUE...``: the origins as JSON, or why not."""
    try:
        found = origins_of(sys.argv[1:] if argv is None else argv)
    except OriginError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(json.dumps(list(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
