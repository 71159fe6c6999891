"""The cached-key SCRAM client says exactly what stock scramp says: if a scramp upgrade
changes the insides shared/adapters/scramp_client.py relies on, these fail loudly."""

from __future__ import annotations

import scramp

from shared.adapters.scramp_client import CachedKeyScramClient, forget_derived_keys

MECHANISMS = ["SCRAM-SHA-256"]
SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="


def _conversation(client: scramp.ScramClient, server_nonce: str) -> tuple[str, str, str]:
    first = client.get_client_first()
    client_nonce = first.split("r=", 1)[1]
    client.set_server_first(f"r={client_nonce}{server_nonce},s={SALT},i=4096")
    return first, client.get_client_final(), str(client.server_signature)


def test_cached_client_sends_the_same_messages_as_stock_scramp() -> None:
    # GIVEN a stock client and the cached-key client with the same nonce and credentials
    forget_derived_keys()
    args = (MECHANISMS, "neondb_owner", "pässwörd\u00a0x")
    stock = scramp.ScramClient(*args, c_nonce="fixednonce")
    cached = CachedKeyScramClient(*args)
    cached.c_nonce = stock.c_nonce
    # WHEN both answer the same server-first message, the cached one twice
    expected = _conversation(stock, "srv")
    got = _conversation(cached, "srv")
    again = CachedKeyScramClient(*args)
    again.c_nonce = stock.c_nonce
    # THEN client-first, client-final (the proof) and the expected server signature agree
    assert got == expected
    assert _conversation(again, "srv") == expected


def test_cached_client_accepts_the_servers_final_message() -> None:
    # GIVEN a scramp server holding the role's SCRAM secret
    mechanism = scramp.ScramMechanism()
    salt, stored, server_key, rounds = mechanism.make_auth_info("secret-pw")
    server = mechanism.make_server(lambda _: (salt, stored, server_key, rounds))
    client = CachedKeyScramClient(MECHANISMS, "u", "secret-pw")
    # WHEN they run the whole exchange
    server.set_client_first(client.get_client_first())
    client.set_server_first(server.get_server_first())
    server.set_client_final(client.get_client_final())
    # THEN the server accepts the proof and the client the server's signature (each raises if not)
    client.set_server_final(server.get_server_final())
