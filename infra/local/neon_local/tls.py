"""The stack's private CA and the server certificate both PostgreSQL and PgBouncer present."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from infra.local.neon_local.commands import run
from infra.local.neon_local.files import Layout, mkdir, own, write
from infra.local.neon_local.packages import which

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = neon-local
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""

_NEW_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
_OPENSSL_STEPS = (
    f"req -config openssl.cnf -x509 {_NEW_KEY} -keyout ca.key -out ca.crt -days 3650"
    " -extensions ca_ext -subj /CN=neon-local-CA",
    f"req -config openssl.cnf -new {_NEW_KEY} -keyout server.key -out server.csr"
    " -subj /CN=localhost",
    "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -days 3650 -extfile openssl.cnf"
    " -extensions server_ext -out server.crt -set_serial",
)
_TLS_MODES = {"ca.key": 0o600, "server.key": 0o600, "ca.crt": 0o644, "server.crt": 0o644}


def _openssl(args: list[str], cwd: Path) -> None:
    run([which("openssl") or "openssl", *args], cwd=cwd, what="openssl " + args[0])


def ensure_tls(layout: Layout) -> None:
    """Issue the CA and the server certificate once; later starts reuse them."""
    if all(p.exists() for p in (layout.server_crt, layout.server_key, layout.ca_crt)):
        return
    mkdir(layout.tls)
    write(layout.tls / "openssl.cnf", _OPENSSL_CNF, 0o644)
    for step in _OPENSSL_STEPS:
        args = step.split()
        if args[-1] == "-set_serial":
            args.append(f"0x{secrets.token_hex(8)}")  # a fresh serial per issued cert
        _openssl(args, layout.tls)
    for name, mode in _TLS_MODES.items():
        os.chmod(layout.tls / name, mode)
        own(layout.tls / name)  # PostgreSQL insists its key is owned by the server user
