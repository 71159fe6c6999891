"""The deployer policy (infra/deploy/deployer-policy.json) against what a deploy really calls.

The needs come from the templates `osls package` compiled (tests/deploy/conftest.py: ci on
arm64; ci on x86_64 with SnapStart; dev as operated, with its secret, alarms and KMS key)
and from the deploy's own calls (tests/support/deployer_needs.py): each resource's
CloudFormation handler permissions, placed on the ARN they act on, plus osls's, the layer
upload's, deployer.py's and the preflight's calls. IAM is evaluated as AWS evaluates an
identity policy (tests/support/iam_policy.py); actions and their scoping are checked
against AWS's Service Authorization Reference as cfn-lint ships it.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from infra.deploy import policy as policy_file
from infra.serverless import routes
from tests.support.deployer_needs import (
    ADDED,
    CONDITIONAL,
    Names,
    Need,
    own_calls,
    template_needs,
)
from tests.support.iam_policy import (
    Policy,
    handler_permissions,
    iam_action,
    resource_schema,
    scopable,
)
from tests.support.packaging import OPERATED_STAGE, STAGE, Packaged

FIXTURES = ("arm64", "x86_64", "operated")
# What no policy can scope to one stage: an HTTP API's id is chosen when it is created.
NOT_STAGE_SCOPED = ("apigateway:",)
_SECRET = re.compile(r"\{\{resolve:secretsmanager:([^:]+):")


def stage_of(fixture: str) -> str:
    return OPERATED_STAGE if fixture == "operated" else STAGE


def secret_of(template: dict[str, Any]) -> str | None:
    found = _SECRET.search(json.dumps(template))
    return found.group(1) if found else None


def kms_key_of(template: dict[str, Any]) -> str | None:
    keys = {
        str(r["Properties"]["KmsKeyArn"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "KmsKeyArn" in r["Properties"]
    }
    assert len(keys) <= 1, keys
    return next(iter(keys), None)


def policy_for(names: Names, template: dict[str, Any]) -> Policy:
    """The committed policy, filled in for the stage as docs/operations.md says to."""
    placeholders = policy_file.Placeholders(
        names.account, names.region, names.stage, secret_of(template), None, kms_key_of(template)
    )
    return Policy.parse(policy_file.render(placeholders))


def needs_of(packaged: Packaged, names: Names) -> list[Need]:
    functions = [fn.name for fn in routes.functions()]
    return [
        *template_needs(packaged.template, names),
        *own_calls(names, secret_of(packaged.template), functions),
    ]


def denied(policy: Policy, needs: list[Need]) -> list[str]:
    return sorted({str(n) for n in needs if not policy.allows(n.action, n.resource, n.context)})


@pytest.fixture(params=FIXTURES)
def packaged(request: pytest.FixtureRequest) -> tuple[Packaged, Names]:
    """Each packaged stage, with where its resources live."""
    return request.getfixturevalue(request.param), Names(stage_of(request.param))


def test_the_policy_allows_every_call_a_deploy_makes(packaged: tuple[Packaged, Names]) -> None:
    # GIVEN a packaged stage, the actions its resources and the deploy's own calls need
    template, names = packaged[0].template, packaged[1]
    needs = needs_of(packaged[0], names)
    # WHEN the policy, filled in for that stage, is evaluated for each
    policy = policy_for(names, template)
    # THEN every one is allowed, on the resource it acts on
    assert needs
    missing = denied(policy, needs)
    assert not missing, "the deployer policy misses:\n" + "\n".join(missing)


def test_the_policy_allows_nothing_of_another_stage(packaged: tuple[Packaged, Names]) -> None:
    # GIVEN what deploying one stage needs
    names = packaged[1]
    needs = needs_of(packaged[0], names)
    # WHEN the policy is filled in for another stage of the same account (its own secret,
    # no KMS key: a key is the operator's to share between stages or not)
    other = policy_for(Names("prod"), {"Resources": {}})
    # THEN it allows none of it, except what AWS cannot scope to a stage
    leaks = [
        str(n)
        for n in needs
        if n.resource != "*"
        and not n.action.startswith(NOT_STAGE_SCOPED)
        and other.allows(n.action, n.resource, n.context)
    ]
    assert not leaks, "a prod policy would allow, on another stage:\n" + "\n".join(leaks)


def test_the_functions_role_can_be_passed_to_lambda_only() -> None:
    # GIVEN the policy for stage dev
    names = Names("dev")
    policy = policy_for(names, {"Resources": {}})
    role = names.role("todo-api-dev-us-east-1-lambdaRole")
    # WHEN the deploy passes the functions' role to a service
    # THEN Lambda may get it, any other service may not, nor may another role be passed
    assert policy.allows("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not policy.allows("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"})
    admin = names.role("admin")
    assert not policy.allows("iam:PassRole", admin, {"iam:PassedToService": "lambda.amazonaws.com"})


def test_the_policy_grants_no_action_no_deploy_needs(request: pytest.FixtureRequest) -> None:
    # GIVEN every action the three packaged stages and the deploy's own calls need
    needed: set[str] = set()
    for fixture in FIXTURES:
        packaged: Packaged = request.getfixturevalue(fixture)
        needed |= {n.action.lower() for n in needs_of(packaged, Names(stage_of(fixture)))}
    # WHEN the policy's actions are listed
    document = json.loads(policy_file.TEMPLATE.read_text())
    granted = {a for s in document["Statement"] for a in _listed(s["Action"])}
    # THEN each of them is needed by something (least privilege)
    unused = sorted(a for a in granted if a.lower() not in needed)
    assert not unused, f"the policy grants actions nothing needs: {unused}"


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_every_action_exists_and_is_scoped_where_iam_can_scope_it() -> None:
    # GIVEN the committed policy, filled in
    policy = policy_for(Names("dev"), {"Resources": {}})
    # WHEN each of its actions is looked up in AWS's Service Authorization Reference
    wrong = []
    for statement, action in policy.actions():
        if iam_action(action) is None:
            wrong.append(f"{statement.sid}: {action} is not an IAM action")
        elif "*" in statement.resources and scopable(action):
            wrong.append(f"{statement.sid}: {action} can be scoped to resources, not '*'")
        elif "*" not in statement.resources and not scopable(action):
            wrong.append(f"{statement.sid}: {action} only matches Resource '*': never allowed")
    # THEN each exists, and "*" is used exactly where IAM offers nothing narrower
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_resource_type_has_handler_permissions(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN a packaged template's resource types
    packaged: Packaged = request.getfixturevalue(fixture)
    kinds = {r["Type"] for r in packaged.resources.values()}
    # WHEN their CloudFormation handlers' permissions are looked up
    # THEN each type lists what creating and deleting it calls (else the table is blind)
    blind = [
        k for k in sorted(kinds) if not all(handler_permissions(k)[h] for h in ("create", "delete"))
    ]
    assert not blind, f"no handler permissions for {blind}: list their actions in ADDED"


def test_each_conditional_entry_names_a_property_and_matches_a_permission() -> None:
    # GIVEN the table of permissions needed only with a property set (or added with one)
    stale = []
    for kind, entries in {**CONDITIONAL, **ADDED}.items():
        schema = resource_schema(kind)
        listed = {p.lower() for perms in handler_permissions(kind).values() for p in perms}
        for key, patterns in entries.items():
            # WHEN each entry is checked against the type's registry schema
            if (
                key not in schema["properties"]
                and not key.startswith("(")
                and key != "UpdatePolicy"
            ):
                stale.append(f"{kind}: {key} is not one of its properties")
            if kind in CONDITIONAL and not any(
                fnmatchcase(p, pat.lower()) for pat in patterns for p in listed
            ):
                stale.append(f"{kind}: {patterns} match no permission its handlers list")
    # THEN none is stale: each names a real property and skips a real permission
    assert not stale, "\n".join(stale)


def test_rendering_fills_every_placeholder() -> None:
    # GIVEN an account, region and stage, with a secret ARN and a KMS key
    secret = "arn:aws:secretsmanager:eu-central-1:210987654321:secret:prod-db-Xy12Ab"
    key = "arn:aws:kms:eu-central-1:210987654321:key/11111111-2222-4333-8444-555555555555"
    full = policy_file.Placeholders("210987654321", "eu-central-1", "prod", secret, "/p", key)
    # WHEN the policy is rendered with and without the optional values
    with_all = json.dumps(policy_file.render(full))
    bare = policy_file.render(policy_file.Placeholders("210987654321", "eu-central-1", "prod"))
    # THEN no placeholder is left, the values land where they belong, and without a key
    # the key's statement is gone (Lambda's own key needs no permission)
    assert "<" not in with_all and "<" not in json.dumps(bare)
    assert secret in with_all and key in with_all and "parameter/p/*" in with_all
    assert (
        "stack/todo-api-prod/*" in with_all
        and "role/todo-api-prod-eu-central-1-lambdaRole" in with_all
    )
    sids = {s["Sid"] for s in bare["Statement"]}
    assert policy_file.KMS_STATEMENT not in sids
    assert "secret:todo-api/prod-??????" in json.dumps(bare)


def test_rendering_refuses_a_malformed_account() -> None:
    # GIVEN an account id with a typo
    placeholders = policy_file.Placeholders("12345678901", "us-east-1", "prod")
    # WHEN the policy is rendered
    # THEN it says what is wrong instead of writing an ARN IAM would never match
    with pytest.raises(ValueError, match="not a 12-digit AWS account id"):
        policy_file.render(placeholders)


def test_the_command_prints_a_policy_iam_accepts_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the documented command for every stage of one account
    args = ["--stage", "*", "--account", "123456789012", "--region", "us-east-1"]
    # WHEN it runs
    code = policy_file.main(args)
    # THEN it prints one JSON policy document covering todo-api-* stacks and functions
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["Version"] == "2012-10-17"
    policy = Policy.parse(document)
    function = "arn:aws:lambda:us-east-1:123456789012:function:todo-api-staging-listTasks"
    assert policy.allows("lambda:UpdateFunctionCode", function)
    assert not policy.allows("lambda:UpdateFunctionCode", function.replace("todo-api", "billing"))
