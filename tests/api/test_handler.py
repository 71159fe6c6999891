"""The Lambda handler around the app: its event loop, and what fails before the app runs."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from functions import get_task, health, list_tasks
from shared.api import errors
from tests.support.client import Client, User
from tests.support.events import LambdaContext


def test_a_handler_still_answers_after_asyncio_run_in_its_thread(client: Client) -> None:
    # GIVEN a thread whose event loop asyncio.run() has closed and unset (as a test, a
    # tool or another library may do before a handler is called)
    asyncio.run(asyncio.sleep(0))
    # WHEN a handler is invoked on that thread
    reply = client(health.handler, "GET", "/health")
    # THEN it answers as usual
    assert reply.status == 200, reply.text


def test_handlers_answer_on_threads_that_never_had_an_event_loop(
    client: Client, alice: User
) -> None:
    # GIVEN fresh threads, which have no event loop of their own
    replies: list[Any] = []

    def call() -> None:
        replies.append(client(list_tasks.handler, "GET", alice.tasks, token=alice.token))

    # WHEN each invokes a handler, one after another (a process takes one invocation at a
    # time, as Lambda gives it)
    for _ in range(3):
        thread = threading.Thread(target=call)
        thread.start()
        thread.join()
    # THEN every one answers
    assert [reply.status for reply in replies] == [200, 200, 200]


def test_an_event_the_handler_cannot_read_is_a_400_and_our_own_failure_a_500() -> None:
    # GIVEN what Mangum raises for a bad event, and a failure that is not the client's
    unreadable = errors.unreadable_event(ValueError(), client_sent_it=True)
    ours = errors.unreadable_event(RuntimeError(), client_sent_it=False)
    # THEN the first is the client's 400, the second our 500, both with their codes
    assert (unreadable["statusCode"], '"MALFORMED_REQUEST"' in unreadable["body"]) == (400, True)
    assert (ours["statusCode"], '"INTERNAL_ERROR"' in ours["body"]) == (500, True)


def test_an_invocation_that_is_no_api_gateway_event_is_a_400() -> None:
    # GIVEN payloads a direct invoke might send that no API Gateway version produces
    # WHEN the handler gets them
    payloads: list[Any] = ["not an event", {}, 42]
    replies = [health.handler(payload, LambdaContext()) for payload in payloads]
    # THEN each is the caller's 400, not a 500
    assert [reply["statusCode"] for reply in replies] == [400, 400, 400]


def test_a_malformed_port_header_is_refused_as_the_clients_error(
    client: Client, alice: User
) -> None:
    # GIVEN a request whose X-Forwarded-Port is not a number (Mangum parses it)
    headers = {"X-Forwarded-Port": "eighty"}
    # WHEN it reaches a handler
    reply = client(get_task.handler, "GET", alice.task(1), token=alice.token, headers=headers)
    # THEN it is a 400 with its code, not a 500
    assert (reply.status, reply.code) == (400, "MALFORMED_REQUEST")
