"""Whether a kept connection is fit to send a statement on, told by its socket alone.

Between statements a PostgreSQL connection is silent: the server has answered in full
(down to ReadyForQuery) and sends nothing until it is asked again. So a connection whose
socket has anything to read is not fit: an end of stream (the pooler or server closed
it, as Neon's proxy does when a compute suspends), an error (it was reset), or bytes (a
FATAL sent before closing). One ``poll`` that does not wait tells, where a ping costs a
round trip. On TLS, bytes already decrypted but unread (``SSLSocket.pending``) count too.

It errs on the safe side: a TLS record with no data for us (a session ticket, a key
update) also makes a connection look unfit, costing a new connection, never an error.
What it cannot see: bytes pg8000 already took into its own read buffer with the last
answer (the statement then fails on the server's error: a 503, nothing sent twice), and
a peer that vanished without a word (no FIN, no RST reached us): for that
``shared.db.engine`` still pings a connection that has been idle for long.
"""

from __future__ import annotations

import select
import socket
import ssl

# Readable or urgent data; poll always reports hang-up, error and a bad descriptor too.
_ANY_EVENT = select.POLLIN | select.POLLPRI


def is_quiet(sock: socket.socket) -> bool:
    """True when nothing waits to be read on ``sock``: no bytes, no end, no error."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    fileno = sock.fileno()
    if fileno < 0:  # closed on our side
        return False
    poller = select.poll()
    poller.register(fileno, _ANY_EVENT)
    return not poller.poll(0)
