"""A TLS front for PostgreSQL 17+, as Neon's proxy fronts a compute: direct TLS, resumable.

PostgreSQL itself never resumes a TLS session (it turns tickets and its session cache
off), so a test of resumption over direct TLS needs a server that does. This proxy
accepts direct TLS (TLS first, ALPN ``postgresql``) with TLS 1.3 session tickets,
presenting the very certificate and key the server presents (so SCRAM's channel binding,
a hash of that certificate, still matches end to end), and speaks direct TLS to the
server. It records, per client connection, whether the client's handshake resumed.

One thread per connection moves bytes both ways: an ``ssl.SSLSocket`` must not be read
and written from two threads at once.
"""

from __future__ import annotations

import select
import socket
import ssl
from pathlib import Path

from shared.db.tls import ALPN_PROTOCOL
from tests.support.relay import Link, Relay

_CHUNK = 65536


class TlsFront(Relay[Link]):
    """Forward direct TLS on 127.0.0.1:<port> to a direct TLS server on the upstream port."""

    def __init__(self, upstream_port: int, cert: Path, key: Path, ca: Path) -> None:
        self._accepting = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._accepting.load_cert_chain(cert, key)
        self._accepting.set_alpn_protocols([ALPN_PROTOCOL])
        self._upstream = ssl.create_default_context(cafile=str(ca))
        self._upstream.set_alpn_protocols([ALPN_PROTOCOL])
        self.resumed: list[bool] = []  # one entry per client handshake, in order
        super().__init__(upstream_port)

    def _new_link(self, client: socket.socket) -> Link:
        return Link(client)

    def _connect(self, link: Link) -> bool:
        try:
            link.client = self._accepting.wrap_socket(link.client, server_side=True)
        except OSError:  # ssl.SSLError included: not a TLS client, or it gave up
            return False
        self.resumed.append(bool(link.client.session_reused))
        if not super()._connect(link):
            return False
        assert link.upstream is not None
        link.upstream = self._upstream.wrap_socket(link.upstream, server_hostname="localhost")
        return True

    def _relay(self, link: Link) -> None:
        assert link.upstream is not None
        other = {link.client: link.upstream, link.upstream: link.client}
        try:
            while not link.down.is_set():
                for source in _readable(list(other)):
                    data = source.recv(_CHUNK)
                    if not data:
                        return
                    other[source].sendall(data)
        except OSError:
            return


def _readable(socks: list[socket.socket]) -> list[socket.socket]:
    # Bytes already decrypted inside an SSLSocket do not wake select().
    pending: list[socket.socket] = [
        s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()
    ]
    return pending or select.select(socks, [], [], 0.2)[0]
