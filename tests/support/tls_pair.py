"""Both ends of a TLS connection in this process, over a local socket pair, at rest."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local.neon_local.files import Layout


@contextmanager
def tls_pair(state_dir: Path) -> Iterator[tuple[ssl.SSLSocket, ssl.SSLSocket]]:
    """(server, client), handshaken with the certificate of the stack in ``state_dir``."""
    layout = Layout(state_dir)
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(layout.server_crt, layout.server_key)
    trusting = ssl.create_default_context(cafile=str(layout.ca_crt))
    ends = socket.socketpair()
    server = serving.wrap_socket(ends[0], server_side=True, do_handshake_on_connect=False)
    client = trusting.wrap_socket(
        ends[1], server_hostname="localhost", do_handshake_on_connect=False
    )
    try:
        accepting = threading.Thread(target=server.do_handshake)
        accepting.start()
        client.do_handshake()
        accepting.join()
        # The server's TLS 1.3 session tickets follow its handshake: the client takes them
        # in with the first data it reads, as a PostgreSQL client does with its login's.
        server.sendall(b"R")
        assert client.recv(1) == b"R"
        yield server, client
    finally:
        for end in (client, server):
            with contextlib.suppress(OSError):
                end.close()
