"""Lambda's account settings under moto, which answers GetAccountSettings "Not yet implemented".

``answer_account_settings(quota)`` registers, on boto3's default session, an answer shaped
like Lambda's own: the account's quota ("Concurrent executions") and what is left
unreserved once the reservations of the functions moto holds are taken out, read from
moto at each call, so a function that reserves concurrency lowers it as it does in Lambda.
moto's ``mock_aws`` replaces the default session on entry and restores it on exit, so
call this inside it; the answer goes with the mock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

# Lambda's defaults besides concurrency (75 GB of code, 250 MB unzipped, 50 MB zipped).
_CODE_LIMITS = {
    "TotalCodeSize": 80_530_636_800,
    "CodeSizeUnzipped": 262_144_000,
    "CodeSizeZipped": 52_428_800,
}


def reserved_in_moto(region: str) -> int:
    """What moto's functions reserve in ``region``, summed (as Lambda subtracts it)."""
    client = boto3.client("lambda", region_name=region)
    total = 0
    for function in client.list_functions()["Functions"]:
        reply = client.get_function_concurrency(FunctionName=function["FunctionName"])
        total += int(reply.get("ReservedConcurrentExecutions") or 0)
    return total


@dataclass
class LambdaAccount:
    """The account's "Concurrent executions" quota, as GetAccountSettings reports it."""

    quota: int = 1000  # Lambda's default; new accounts may start at 10

    def answer(self, context: Any = None, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        """GetAccountSettings' answer: the quota, less what moto's functions reserve."""
        region = (context or {}).get("client_region", "us-east-1")
        limit = {
            **_CODE_LIMITS,
            "ConcurrentExecutions": self.quota,
            "UnreservedConcurrentExecutions": self.quota - reserved_in_moto(region),
        }
        usage = {"TotalCodeSize": 0, "FunctionCount": 0}
        return AWSResponse("", 200, HTTPHeaders(), None), {
            "AccountLimit": limit,
            "AccountUsage": usage,
        }


def answer_account_settings(quota: int = 1000) -> LambdaAccount:
    """Register the account's answer on boto3's default session; set its ``quota`` later."""
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    account = LambdaAccount(quota)
    # A before-call handler's answer stands in for the call (botocore's documented hook);
    # the stubs type handlers as returning None.
    answer: Any = account.answer
    session.events.register("before-call.lambda.GetAccountSettings", answer)
    return account
