"""Secrets Manager mode lets the functions read their one secret again, and nothing more.

A function whose database password is refused reads DATABASE_URL_SECRET's secret
(shared/db/credentials.py): the template names the secret in every function's
environment and grants GetSecretValue on it alone, only when secretsFrom selects it.
"""

from __future__ import annotations

from typing import Any

from infra.deploy import deployer
from shared.core.settings import Settings
from tests.support.packaging import SECRET_ID, Packaged

SECRET_ACTION = "secretsmanager:GetSecretValue"


def statements(packaged: Packaged) -> list[dict[str, Any]]:
    """Every statement of the functions' role."""
    role = packaged.of_type("AWS::IAM::Role")["IamRoleLambdaExecution"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def environments(packaged: Packaged) -> dict[str, dict[str, str]]:
    """Each function's environment, by handler."""
    return {
        fn["Properties"]["Handler"]: fn["Properties"]["Environment"]["Variables"]
        for fn in packaged.of_type("AWS::Lambda::Function").values()
    }


def test_secret_mode_names_the_secret_and_grants_reading_it_alone(operated: Packaged) -> None:
    # GIVEN the dev stage packaged with secretsFrom=secretsmanager
    # WHEN its functions' environments and role are read
    granted = [s for s in statements(operated) if SECRET_ACTION in s["Action"]]
    # THEN every function (API and jobs) knows the secret's name, in the variable the
    # deploy takes it from and the app's settings read ...
    assert deployer.SECRET_ENV.lower() in Settings.model_fields
    assert {env[deployer.SECRET_ENV] for env in environments(operated).values()} == {SECRET_ID}
    # ... and the role may read that secret (its ARN: name plus Secrets Manager's six
    # random characters) in the stage's account and region, and do nothing else with it
    assert granted == [
        {
            "Effect": "Allow",
            "Action": [SECRET_ACTION],
            "Resource": [
                {
                    "Fn::Join": [
                        ":",
                        [
                            "arn",
                            {"Ref": "AWS::Partition"},
                            "secretsmanager",
                            {"Ref": "AWS::Region"},
                            {"Ref": "AWS::AccountId"},
                            "secret",
                            f"{SECRET_ID}-??????",
                        ],
                    ]
                }
            ],
        }
    ]
    assert not [
        s
        for s in statements(operated)
        if any("secretsmanager:" in a for a in s["Action"]) and s not in granted
    ]


def test_env_mode_neither_names_a_secret_nor_may_read_one(arm64: Packaged) -> None:
    # GIVEN the default packaging (settings exported, no secret)
    # WHEN its environments and role are read
    # THEN DATABASE_URL_SECRET is empty (unset, to the app) and no secretsmanager action
    # is granted
    assert {env[deployer.SECRET_ENV] for env in environments(arm64).values()} == {""}
    actions = {action for s in statements(arm64) for action in s["Action"]}
    assert not {a for a in actions if a.startswith("secretsmanager:")}
