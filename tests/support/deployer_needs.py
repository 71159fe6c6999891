"""Every IAM action `make deploy` needs, and on which resource, from the packaged template.

For each resource of the template `osls package` compiled, CloudFormation's handlers for
its type call AWS with the deployer's credentials: their permissions (the registry schema,
``handler_permissions``) are needed unless they serve a property this resource does not
set (``CONDITIONAL``), and a few calls the schemas omit are added (``ADDED``). Each action
is then placed on the ARN it acts on (``Names``, ``_targets``): a function's own ARN, its
role, its code object, its layers. Besides the template, the deploy's own calls
(``OWN_CALLS``): osls deploy/remove/info/logs/invoke/rollback/deploy list, the layer
upload of infra/serverless/layers.js, infra/deploy/deployer.py and the preflight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from infra.deploy.stage import SERVICE, function_name, stack_name
from tests.support.iam_policy import handler_permissions, iam_action

ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Need:
    """One action on one resource, and who needs it."""

    action: str
    resource: str
    why: str
    context: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} ({self.why})"


@dataclass(frozen=True)
class Names:
    """Where one stage's resources live in an account, as ARNs."""

    stage: str
    region: str = "us-east-1"
    account: str = ACCOUNT
    api_id: str = "a1b2c3d4e5"

    @property
    def bucket(self) -> str:
        """The deployment bucket as CloudFormation names it: stack, logical id, suffix."""
        return f"{stack_name(self.stage)}-serverlessdeploymentbucket-1a2b3c4d5e6f"

    def bucket_arn(self, key: str | None = None) -> str:
        return f"arn:aws:s3:::{self.bucket}" + ("" if key is None else f"/{key}")

    def function(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return arn if qualifier is None else f"{arn}:{qualifier}"

    def role(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    def layer(self, name: str, version: int | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:layer:{name}"
        return arn if version is None else f"{arn}:{version}"

    def log_group(self, name: str) -> list[str]:
        """Both forms IAM checks: the group, and the group with its streams (``:*``)."""
        arn = f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}"
        return [arn, f"{arn}:*"]

    def api(self, path: str = "") -> str:
        return f"arn:aws:apigateway:{self.region}::/apis{path}"

    def alarm(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{name}"

    @property
    def stack(self) -> str:
        return (
            f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
            f"{stack_name(self.stage)}/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
        )

    def secret(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{secret_id}-AbCdEf"

    def parameter(self, name: str) -> str:
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter{name}"


# What S3's handler calls to write a bucket's metadata tables (reading them is always done).
_S3_METADATA = (
    "s3:CreateBucketMetadata*",
    "s3:DeleteBucketMetadata*",
    "s3:UpdateBucketMetadata*",
    "s3tables:*",
)
# Permissions a handler lists that serve only a property (or a feature, in parentheses)
# this resource does not use: needed again as soon as a resource sets that property.
CONDITIONAL: dict[str, dict[str, tuple[str, ...]]] = {
    "AWS::S3::Bucket": {
        "AccessControl": ("s3:PutBucketAcl", "s3:PutObjectAcl"),
        "AbacStatus": ("s3:PutBucketAbac",),
        "AccelerateConfiguration": ("s3:PutAccelerateConfiguration",),
        "AnalyticsConfigurations": ("s3:PutAnalyticsConfiguration",),
        "CorsConfiguration": ("s3:PutBucketCORS",),
        "IntelligentTieringConfigurations": ("s3:PutIntelligentTieringConfiguration",),
        "InventoryConfigurations": ("s3:PutInventoryConfiguration",),
        "LifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
        "LoggingConfiguration": ("s3:PutBucketLogging",),
        "MetadataTableConfiguration": _S3_METADATA,
        "MetadataConfiguration": _S3_METADATA,
        "MetricsConfigurations": ("s3:PutMetricsConfiguration",),
        "NotificationConfiguration": ("s3:PutBucketNotification",),
        "ObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
        "OwnershipControls": ("s3:PutBucketOwnershipControls",),
        "PublicAccessBlockConfiguration": ("s3:PutBucketPublicAccessBlock",),
        "ReplicationConfiguration": ("s3:PutReplicationConfiguration", "iam:PassRole"),
        "VersioningConfiguration": ("s3:PutBucketVersioning",),
        "WebsiteConfiguration": ("s3:PutBucketWebsite", "s3:DeleteBucketWebsite"),
    },
    "AWS::Logs::LogGroup": {
        "KmsKeyId": ("logs:AssociateKmsKey", "logs:DisassociateKmsKey"),
        "DataProtectionPolicy": ("logs:PutDataProtectionPolicy", "logs:DeleteDataProtectionPolicy"),
        "FieldIndexPolicies": ("logs:PutIndexPolicy", "logs:DeleteIndexPolicy"),
        "ResourcePolicyDocument": ("logs:DeleteResourcePolicy",),
        "BearerTokenAuthenticationEnabled": ("logs:PutBearerTokenAuthentication",),
        "DeletionProtectionEnabled": ("logs:PutLogGroupDeletionProtection",),
        "(delivery to Firehose)": ("firehose:*",),
    },
    "AWS::IAM::Role": {
        "ManagedPolicyArns": ("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
        "PermissionsBoundary": (
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
        ),
        "Description": ("iam:UpdateRoleDescription", "iam:UpdateRole"),
        "MaxSessionDuration": ("iam:UpdateRole",),
    },
    "AWS::ApiGatewayV2::Api": {"BodyS3Location": ("s3:GetObject",)},
    "AWS::ApiGatewayV2::Integration": {"CredentialsArn": ("iam:PassRole",)},
    "AWS::Lambda::Function": {
        "VpcConfig": ("ec2:*",),
        "FileSystemConfigs": ("elasticfilesystem:*", "s3files:*"),
        "KmsKeyArn": ("kms:*",),
        "CodeSigningConfigArn": (
            "lambda:GetCodeSigningConfig",
            "lambda:PutFunctionCodeSigningConfig",
            "lambda:DeleteFunctionCodeSigningConfig",
        ),
        "RuntimeManagementConfig": ("lambda:PutRuntimeManagementConfig",),
        "RecursiveLoop": ("lambda:PutFunctionRecursionConfig",),
        "FunctionScalingConfig": ("lambda:PutFunctionScalingConfig",),
        "CapacityProviderConfig": ("lambda:PassCapacityProvider",),
    },
    "AWS::Lambda::Version": {
        "ProvisionedConcurrencyConfig": ("lambda:PutProvisionedConcurrencyConfig",),
        "RuntimePolicy": ("lambda:PutRuntimeManagementConfig",),
        "FunctionScalingConfig": ("lambda:PutFunctionScalingConfig",),
    },
    "AWS::Lambda::Alias": {
        "ProvisionedConcurrencyConfig": (
            "lambda:PutProvisionedConcurrencyConfig",
            "lambda:DeleteProvisionedConcurrencyConfig",
        ),
        "UpdatePolicy": ("codedeploy:*",),  # CodeDeploy traffic shifting, a resource attribute
    },
}
# Calls the schemas do not list. The HTTP API stage's access logs: API Gateway's guide
# ("Configuring logging for an HTTP API") asks these of whoever sets AccessLogSettings.
_LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
ADDED: dict[str, dict[str, tuple[str, ...]]] = {
    "AWS::ApiGatewayV2::Stage": {"AccessLogSettings": _LOG_DELIVERY},
}


@dataclass(frozen=True)
class Resource:
    """One resource of the template, with what it takes to name what it refers to."""

    logical_id: str
    body: Mapping[str, Any]
    template: Mapping[str, Any]
    names: Names

    @property
    def kind(self) -> str:
        return str(self.body["Type"])

    @property
    def props(self) -> Mapping[str, Any]:
        return dict(self.body.get("Properties") or {})

    def sets(self, key: str) -> bool:
        return key in self.props or key in self.body

    def referenced(self, value: Any) -> Resource:
        """The resource a ``Ref`` or ``Fn::GetAtt`` points at."""
        target = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
        return Resource(target, self.template["Resources"][target], self.template, self.names)

    def value(self, value: Any) -> str:
        """A property value with Fn::Join, pseudo parameters and a function's Ref/Arn resolved."""
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(self.value(part) for part in parts)
        pseudo = {"AWS::Region": self.names.region, "AWS::Partition": "aws"}
        if value.get("Ref") in pseudo:
            return pseudo[value["Ref"]]
        target = self.referenced(value)
        if target.kind == "AWS::Lambda::Function":  # Ref: its name; Fn::GetAtt Arn: its ARN
            name = target.value(target.props["FunctionName"])
            return name if "Ref" in value else self.names.function(name)
        raise AssertionError(f"{self.logical_id}: cannot resolve {value}")


def needed_actions(resource: Resource) -> list[str]:
    """Every IAM action CloudFormation's handlers need for this resource, as it is set."""
    handlers = handler_permissions(resource.kind)
    listed = {p for perms in handlers.values() for p in perms if iam_action(p) is not None}
    skipped = {
        action
        for key, patterns in CONDITIONAL.get(resource.kind, {}).items()
        if not resource.sets(key)
        for action in listed
        if any(fnmatchcase(action.lower(), p.lower()) for p in patterns)
    }
    added = [
        a for key, acts in ADDED.get(resource.kind, {}).items() if resource.sets(key) for a in acts
    ]
    return sorted((listed - skipped) | set(added))


def template_needs(template: Mapping[str, Any], names: Names) -> Iterator[Need]:
    """What deploying (and removing) every resource of ``template`` takes."""
    for logical_id, body in template["Resources"].items():
        resource = Resource(logical_id, body, template, names)
        for action in needed_actions(resource):
            why = f"{resource.kind} {logical_id}"
            for arn, context in _targets(resource, action):
                yield Need(action, arn, why, context)


_Target = tuple[str, Mapping[str, str]]


def _targets(resource: Resource, action: str) -> list[_Target]:
    """The ARNs ``action`` acts on for this resource: "*" when IAM cannot scope it."""
    entry = iam_action(action) or {}
    kinds = [kind.lower() for kind in entry.get("Resources", [])]
    if not kinds:
        return [("*", {})]
    if action.startswith("apigateway:"):
        return [(arn, {}) for arn in _api_paths(resource, action)]
    for kind in kinds:
        resolve = _RESOLVERS.get((resource.kind, kind)) or _RESOLVERS.get(("*", kind))
        if resolve is not None:
            return [(arn, _context(action)) for arn in resolve(resource)]
    raise AssertionError(f"no ARN known for {action} ({kinds}) on {resource.kind}: add a resolver")


def _context(action: str) -> Mapping[str, str]:
    # Who the role is handed to: the policy lets the deploy pass it to Lambda only.
    return {"iam:PassedToService": "lambda.amazonaws.com"} if action == "iam:PassRole" else {}


def _own_function(resource: Resource) -> list[str]:
    """The function (or, as SnapStart's permissions name it, its alias) acted on."""
    named = resource.value(resource.props["FunctionName"])
    return [named if named.startswith("arn:") else resource.names.function(named)]


def _qualified(resource: Resource) -> list[str]:
    return [f"{arn}:1" for arn in _own_function(resource)]


def _role(resource: Resource) -> list[str]:
    role = (
        resource
        if resource.kind == "AWS::IAM::Role"
        else resource.referenced(resource.props["Role"])
    )
    return [resource.names.role(role.value(role.props["RoleName"]))]


def _objects(resource: Resource) -> list[str]:
    if resource.kind == "AWS::Lambda::Function":
        return [resource.names.bucket_arn(resource.props["Code"]["S3Key"])]
    if resource.kind == "AWS::Lambda::LayerVersion":
        return [resource.names.bucket_arn(resource.props["Content"]["S3Key"])]
    return [resource.names.bucket_arn("*")]


def _layer_versions(resource: Resource) -> list[str]:
    layers = (
        [resource]
        if resource.kind == "AWS::Lambda::LayerVersion"
        else [resource.referenced(ref) for ref in resource.props.get("Layers", [])]
    )
    return [resource.names.layer(layer.value(layer.props["LayerName"]), 1) for layer in layers]


_RESOLVERS: dict[tuple[str, str], Callable[[Resource], list[str]]] = {
    ("*", "function"): _own_function,
    ("*", "function version"): _qualified,
    ("*", "function alias"): lambda r: [f"{arn}:snapstart" for arn in _own_function(r)],
    ("*", "role"): _role,
    ("*", "object"): _objects,
    ("*", "bucket"): lambda r: [r.names.bucket_arn()],
    ("*", "layerversion"): _layer_versions,
    ("*", "layer"): lambda r: [r.names.layer(r.value(r.props["LayerName"]))],
    ("*", "key"): lambda r: [r.value(r.props["KmsKeyArn"])],
    ("*", "log-group"): lambda r: r.names.log_group(r.value(r.props["LogGroupName"])),
    ("*", "alarm"): lambda r: [r.names.alarm(r.value(r.props["AlarmName"]))],
}
# The HTTP API's sub-resources, as API Gateway's IAM resources name them.
_API_CHILDREN = {
    "AWS::ApiGatewayV2::Stage": ("stages", "$default"),
    "AWS::ApiGatewayV2::Route": ("routes", "r0ut3id"),
    "AWS::ApiGatewayV2::Integration": ("integrations", "1ntgr8"),
}


def _api_paths(resource: Resource, action: str) -> list[str]:
    """POST creates in a collection; the other verbs act on the item."""
    names = resource.names
    if resource.kind == "AWS::ApiGatewayV2::Api":
        return [names.api()] if action == "apigateway:POST" else [names.api(f"/{names.api_id}")]
    collection, item = _API_CHILDREN[resource.kind]
    base = f"/{names.api_id}/{collection}"
    return [names.api(base)] if action == "apigateway:POST" else [names.api(f"{base}/{item}")]


def own_calls(names: Names, secret_id: str | None, functions: list[str]) -> Iterator[Need]:
    """The calls of osls, the layer upload, the deploy script and the preflight themselves."""
    stack, bucket, objects = names.stack, names.bucket_arn(), names.bucket_arn("*")
    for action, resource, why in _OWN:
        arn = {"stack": stack, "bucket": bucket, "objects": objects, "*": "*"}.get(resource)
        if arn is not None:
            yield Need(action, arn, why)
            continue
        for fn in functions:  # "function": every function of the stage
            yield Need(action, names.function(function_name(names.stage, fn)), why)
    for group in (f"/aws/lambda/{function_name(names.stage, fn)}" for fn in functions):
        for arn in names.log_group(group):
            yield from (
                Need(a, arn, "osls logs")
                for a in ("logs:FilterLogEvents", "logs:DescribeLogStreams")
            )
    if secret_id is not None:
        why = "preflight and deployer.py read the secret; CloudFormation resolves its references"
        yield Need("secretsmanager:GetSecretValue", names.secret(secret_id), why)
    for setting in ("DATABASE_URL", "BETTER_AUTH_SECRET"):
        parameter = names.parameter(f"/{SERVICE}/{names.stage}/{setting}")
        yield Need("ssm:GetParameters", parameter, "deployer.py --ssm-prefix /todo-api/<stage>")


_OWN: tuple[tuple[str, str, str], ...] = (
    # osls deploy: the stack by change sets (create-stack.js, update-stack.js), watched by
    # its events; the bucket found with DescribeStackResource (provider.js)
    *(
        (f"cloudformation:{a}", "stack", "osls deploy/remove (change sets, events)")
        for a in (
            "CreateChangeSet",
            "DescribeChangeSet",
            "ExecuteChangeSet",
            "DeleteChangeSet",
            "DescribeStacks",
            "DescribeStackEvents",
            "DescribeStackResource",
            "ListStackResources",
            "GetTemplate",
            "DeleteStack",
        )
    ),
    ("cloudformation:ValidateTemplate", "*", "osls deploy (validate-template.js)"),
    # the artifacts: listed and compared (check-for-changes.js), uploaded (upload-s3-object.js,
    # layers.js: HeadObject needs GetObject, and ListBucket to tell 404 from 403), old ones
    # deleted (cleanup-s3-bucket.js), the template read by CloudFormation (TemplateURL)
    ("s3:ListBucket", "bucket", "osls deploy (check-for-changes, cleanup), layers.js HeadObject"),
    ("s3:ListBucketVersions", "bucket", "osls remove (versioned bucket)"),
    ("s3:GetObject", "objects", "layers.js HeadObject, CloudFormation reads TemplateURL, rollback"),
    ("s3:PutObject", "objects", "osls deploy (upload), layers.js PutObject"),
    ("s3:AbortMultipartUpload", "objects", "osls deploy (a failed multipart upload)"),
    ("s3:DeleteObject", "objects", "osls deploy (cleanup of old deployments), osls remove"),
    # functions: compared (check-for-changes.js: GetFunction), listed (deploy list), invoked
    ("lambda:GetFunction", "function", "osls deploy (check-for-changes), deploy list"),
    ("lambda:ListVersionsByFunction", "function", "osls deploy list"),
    ("lambda:InvokeFunction", "function", "deployer.py runs migrate and verify; osls invoke"),
    ("lambda:GetFunctionConfiguration", "function", "deployer.py checks the job exists"),
    ("lambda:GetFunctionConcurrency", "function", "preflight: what a redeploy already holds"),
    ("lambda:GetAccountSettings", "*", "preflight: the account's unreserved concurrency"),
)
