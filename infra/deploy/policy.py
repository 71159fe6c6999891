"""The deployer policy (infra/deploy/deployer-policy.json) for one stage of one account.

    python -m infra.deploy.policy --stage prod [--account 123456789012] [--region R]
        [--secret todo-api/prod | arn:...] [--ssm-prefix /todo-api/prod] [--kms-key-arn arn:...]

Fills the file's placeholders: ``<account>`` (default: the caller's, from STS),
``<region>``, ``<stage>`` (``*`` for every stage), ``<secret-name>`` (default
``todo-api/<stage>``; an ARN replaces the secret's whole ARN), ``<ssm-prefix>`` (default
``/todo-api/<stage>``) and ``<kms-key-arn>`` (without one, the FunctionsKey statement is
dropped: Lambda's own key needs no permission). Prints the policy JSON for
``aws iam create-policy --policy-document file://...`` (docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra import ROOT
from infra.deploy.stage import DEFAULT_REGION, SERVICE

TEMPLATE = ROOT / "infra" / "deploy" / "deployer-policy.json"
KMS_STATEMENT = "FunctionsKey"
_SECRET_ARN = "arn:aws:secretsmanager:<region>:<account>:secret:<secret-name>-??????"  # noqa: S105
_PLACEHOLDER = re.compile(r"<[a-z-]+>")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Placeholders:
    """What the policy is for: one stage (or ``*``) of one account and region."""

    account: str
    region: str
    stage: str
    secret: str | None = None
    ssm_prefix: str | None = None
    kms_key_arn: str | None = None

    def values(self) -> dict[str, str]:
        return {
            "<account>": self.account,
            "<region>": self.region,
            "<secret-name>": self.secret or f"{SERVICE}/<stage>",
            "<ssm-prefix>": (self.ssm_prefix or f"/{SERVICE}/<stage>").rstrip("/"),
            "<kms-key-arn>": self.kms_key_arn or "",
            "<stage>": self.stage,  # last: the defaults above hold it
        }


def render(placeholders: Placeholders, template: str | None = None) -> dict[str, Any]:
    """The policy document with every placeholder filled; ValueError naming a bad value."""
    if not _ACCOUNT.match(placeholders.account):
        raise ValueError(f"account {placeholders.account!r} is not a 12-digit AWS account id")
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    if placeholders.secret and placeholders.secret.startswith("arn:"):
        text = text.replace(_SECRET_ARN, placeholders.secret)
    for placeholder, value in placeholders.values().items():
        text = text.replace(placeholder, value)
    document: dict[str, Any] = json.loads(text)
    if not placeholders.kms_key_arn:
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != KMS_STATEMENT]
    left = sorted(set(_PLACEHOLDER.findall(json.dumps(document))))
    if left:
        raise ValueError(f"placeholders left unfilled: {', '.join(left)}")
    return document


def caller_account() -> str:
    """The account of the credentials in use (STS GetCallerIdentity)."""
    import boto3

    return str(boto3.client("sts").get_caller_identity()["Account"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="the stage, or '*' for every stage")
    parser.add_argument("--account", help="12-digit account id (default: the caller's)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    parser.add_argument("--secret", help="DATABASE_URL_SECRET's name or ARN")
    parser.add_argument("--ssm-prefix", help="the deploy's --ssm-prefix")
    parser.add_argument("--kms-key-arn", help="the --param kmsKeyArn the stage deploys with")
    args = parser.parse_args(argv)
    account = args.account or caller_account()
    fields = (args.region, args.stage, args.secret, args.ssm_prefix, args.kms_key_arn)
    try:
        document = render(Placeholders(account, *fields))
    except ValueError as exc:
        print(f"policy: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
