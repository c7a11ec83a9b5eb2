"""What a deployed stage is made of, derived from the code's own definitions.

The IAM policy files ``chalice deploy`` reads (``.chalice/policy-<stage>-<function>.json``) and
the merge template ``chalice package`` folds into its SAM template are both generated here from
``chalicelib.tables`` (tables and indexes), the stage's settings in ``.chalice/config.json``
(names) and ``.chalice/deploy.json`` (limits), so neither can drift from the code.
"""

from __future__ import annotations

import argparse
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from app import PERMISSIONS
from chalicelib.gateway_responses import openapi_gateway_responses
from chalicelib.settings import SERVICE_NAME, Settings
from chalicelib.tables import API_KEYS_TABLE, READINGS_TABLE, ROLLUPS_TABLE, SITES_TABLE, TableDefinition
from scripts.local_dynamodb import REPO_ROOT

CHALICE_DIR = REPO_ROOT / ".chalice"
STAGES: tuple[Literal["dev", "prod"], ...] = ("dev", "prod")
FUNCTIONS = ("api_handler", "api_key_authorizer", "ingest_s3_file")
INGEST_MAX_RECEIVES = 5

Stage = Literal["dev", "prod"]
ArnValue = str | dict[str, str]
ArnBuilder = Callable[[str, str], ArnValue]


class UsagePlanLimits(BaseModel):
    rate_limit: float = Field(gt=0)
    burst_limit: int = Field(gt=0)
    quota_limit: int = Field(gt=0)
    quota_period: Literal["DAY", "WEEK", "MONTH"]


class StageThrottle(BaseModel):
    rate_limit: float = Field(gt=0)
    burst_limit: int = Field(gt=0)


class AlarmThresholds(BaseModel):
    error_rate_percent: float = Field(gt=0, le=100)
    latency_p99_ms: int = Field(gt=0)


class StageDeployment(BaseModel):
    """One stage's entry in ``.chalice/deploy.json``."""

    usage_plan: UsagePlanLimits
    stage_throttle: StageThrottle
    alarms: AlarmThresholds
    alert_topic: str
    alarm_topic: str
    deletion_protection: bool


def stage_settings(stage: Stage) -> Settings:
    """The settings the stage's functions will run with, as ``.chalice/config.json`` sets them."""
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    variables = {**config.get("environment_variables", {}), **config["stages"][stage]["environment_variables"]}
    return Settings.from_environment(variables)


def stage_deployment(stage: Stage) -> StageDeployment:
    return StageDeployment.model_validate(json.loads((CHALICE_DIR / "deploy.json").read_text())[stage])


def function_name(stage: str, function: str) -> str:
    """The Lambda function names Chalice gives (the API handler is the bare app-stage name)."""
    base = f"{SERVICE_NAME}-{stage}"
    return base if function == "api_handler" else f"{base}-{function}"


def file_arn(service: str, resource: str) -> ArnValue:
    """For ``chalice deploy``'s static policy files: any region and account, but exact resources."""
    if service == "s3":
        return f"arn:aws:s3:::{resource}"
    return f"arn:aws:{service}:*:*:{resource}"


def template_arn(service: str, resource: str) -> ArnValue:
    """For the packaged template: the stack's own partition, region and account."""
    if service == "s3":
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{resource}"}
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def _statement(sid: str, actions: list[str], resources: list[ArnValue]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _tables(settings: Settings) -> dict[str, tuple[str, TableDefinition]]:
    return {
        "Readings": (settings.dynamodb_table, READINGS_TABLE),
        "Rollups": (settings.rollups_table, ROLLUPS_TABLE),
        "Sites": (settings.sites_table, SITES_TABLE),
        "ApiKeys": (settings.api_keys_table, API_KEYS_TABLE),
    }


def policy_document(stage: Stage, function: str, arn: ArnBuilder = file_arn) -> dict[str, Any]:
    """Exactly the calls ``function`` makes, on exactly the resources it makes them on."""
    settings = stage_settings(stage)
    deployment = stage_deployment(stage)
    tables = _tables(settings)

    def table(name: str) -> ArnValue:
        return arn("dynamodb", f"table/{tables[name][0]}")

    readings_indexes = [
        arn("dynamodb", f"table/{settings.dynamodb_table}/index/{i.name}") for i in READINGS_TABLE.indexes
    ]
    log_group = f"log-group:/aws/lambda/{function_name(stage, function)}"
    logs = _statement(
        "WriteOwnLogs",
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [arn("logs", log_group), arn("logs", f"{log_group}:*")],
    )
    alerts = _statement("PublishAnomalyAlerts", ["sns:Publish"], [arn("sns", deployment.alert_topic)])
    # X-Ray has no resource-level permissions: "*" is the only resource these actions take.
    traces = _statement("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
    ingest_writes = [
        _statement("QueryAndWriteReadings", ["dynamodb:Query", "dynamodb:BatchWriteItem"], [table("Readings")]),
        _statement("QueryAndWriteRollups", ["dynamodb:Query", "dynamodb:PutItem"], [table("Rollups")]),
        _statement("RecordSites", ["dynamodb:UpdateItem"], [table("Sites")]),
    ]
    if function == "api_key_authorizer":
        statements = [_statement("VerifyApiKeys", ["dynamodb:GetItem"], [table("ApiKeys")]), logs, traces]
    elif function == "api_handler":
        statements = [
            *ingest_writes,
            _statement("QueryAnomalyIndexes", ["dynamodb:Query"], readings_indexes),
            _statement("CheckReadingsTableAndIndexes", ["dynamodb:DescribeTable"], [table("Readings")]),
            _statement("ReadSites", ["dynamodb:Query", "dynamodb:GetItem"], [table("Sites")]),
            _statement(
                "ReadPageTokenSecret",
                ["secretsmanager:GetSecretValue"],
                [arn("secretsmanager", f"secret:{settings.page_token_secret_id}-??????")],  # its random suffix
            ),
            alerts,
            logs,
            traces,
        ]
    elif function == "ingest_s3_file":
        statements = [
            *ingest_writes,
            _statement("ReadDroppedFiles", ["s3:GetObject"], [arn("s3", f"{settings.ingest_bucket}/*")]),
            _statement(
                "ConsumeIngestQueue",
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                [arn("sqs", settings.ingest_queue)],
            ),
            alerts,
            logs,
            traces,
        ]
    else:
        raise ValueError(f"unknown function {function}")
    return {"Version": "2012-10-17", "Statement": statements}


def policy_path(stage: str, function: str) -> Path:
    return CHALICE_DIR / f"policy-{stage}-{function}.json"


def render_policy_file(stage: Stage, function: str) -> str:
    return json.dumps(policy_document(stage, function), indent=2) + "\n"


def write_policy_files() -> list[Path]:
    written = []
    for stage in STAGES:
        for function in FUNCTIONS:
            path = policy_path(stage, function)
            path.write_text(render_policy_file(stage, function))
            written.append(path)
    return written


FUNCTION_RESOURCES = {
    "api_handler": "APIHandler",
    "api_key_authorizer": "ApiKeyAuthorizer",
    "ingest_s3_file": "IngestS3File",
}
ROLE_RESOURCES = {
    "api_handler": "ApiHandlerRole",
    "api_key_authorizer": "ApiKeyAuthorizerRole",
    "ingest_s3_file": "IngestS3FileRole",
}
API_STAGE = "api"
USAGE_PLAN_KEY = "api_key"


def _table_resource(table_name: str, definition: TableDefinition, protect: bool) -> dict[str, Any]:
    request = definition.create_table_request(table_name)
    properties: dict[str, Any] = {
        **request,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": protect,
    }
    kept = "Retain" if protect else "Delete"
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": kept,
        "UpdateReplacePolicy": kept,
        "Properties": properties,
    }


def _alarm(description: str, topic: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "AlarmActions": [{"Ref": topic}],
            "OKActions": [{"Ref": topic}],
            "TreatMissingData": "notBreaching",
            **properties,
        },
    }


def _metric(namespace: str, name: str, dimensions: dict[str, Any], stat: str = "Sum") -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
        },
        "Period": 300,
        "Stat": stat,
    }


def _alarms(stage: Stage, settings: Settings, deployment: StageDeployment) -> dict[str, Any]:
    api = {"ApiName": f"{SERVICE_NAME}-{stage}", "Stage": API_STAGE}
    thresholds = deployment.alarms
    alarms: dict[str, Any] = {
        "Api5xxRateAlarm": _alarm(
            f"More than {thresholds.error_rate_percent}% of requests answered 5xx over 5 minutes",
            "AlarmTopic",
            Metrics=[
                {"Id": "errors", "MetricStat": _metric("AWS/ApiGateway", "5XXError", api), "ReturnData": False},
                {"Id": "requests", "MetricStat": _metric("AWS/ApiGateway", "Count", api), "ReturnData": False},
                {
                    "Id": "rate",
                    "Expression": "IF(requests >= 20, 100 * errors / requests, 0)",
                    "Label": "5xx rate (%)",
                    "ReturnData": True,
                },
            ],
            ComparisonOperator="GreaterThanThreshold",
            Threshold=thresholds.error_rate_percent,
            EvaluationPeriods=1,
        ),
        "ApiLatencyAlarm": _alarm(
            f"p99 latency above {thresholds.latency_p99_ms} ms for 15 minutes",
            "AlarmTopic",
            Namespace="AWS/ApiGateway",
            MetricName="Latency",
            Dimensions=[{"Name": key, "Value": value} for key, value in api.items()],
            ExtendedStatistic="p99",
            Period=300,
            EvaluationPeriods=3,
            Threshold=thresholds.latency_p99_ms,
            ComparisonOperator="GreaterThanThreshold",
        ),
        "IngestDeadLettersAlarm": _alarm(
            "Dropped files that failed ingestion 5 times are waiting in the dead-letter queue",
            "AlarmTopic",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": {"Fn::GetAtt": ["IngestDeadLetterQueue", "QueueName"]}}],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        ),
    }
    for logical, (table_name, _) in _tables(settings).items():
        alarms[f"{logical}ThrottleAlarm"] = _alarm(
            f"DynamoDB throttled requests on {table_name}",
            "AlarmTopic",
            Metrics=[
                {
                    "Id": "reads",
                    "MetricStat": _metric("AWS/DynamoDB", "ReadThrottleEvents", {"TableName": table_name}),
                    "ReturnData": False,
                },
                {
                    "Id": "writes",
                    "MetricStat": _metric("AWS/DynamoDB", "WriteThrottleEvents", {"TableName": table_name}),
                    "ReturnData": False,
                },
                {"Id": "throttles", "Expression": "reads + writes", "Label": "throttle events", "ReturnData": True},
            ],
            ComparisonOperator="GreaterThanThreshold",
            Threshold=0,
            EvaluationPeriods=1,
        )
    for function, logical in FUNCTION_RESOURCES.items():
        alarms[f"{logical}ThrottleAlarm"] = _alarm(
            f"Lambda throttled invocations of {function_name(stage, function)}",
            "AlarmTopic",
            Namespace="AWS/Lambda",
            MetricName="Throttles",
            Dimensions=[{"Name": "FunctionName", "Value": {"Ref": logical}}],
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
    return alarms


def _metered_paths() -> dict[str, Any]:
    """Every keyed route also requires its usage-plan key, which the authorizer supplies."""
    paths: dict[str, Any] = {}
    for permission in PERMISSIONS:
        paths.setdefault(permission.path, {})[permission.method.lower()] = {
            "security": [{"api_key_authorizer": []}, {USAGE_PLAN_KEY: []}]
        }
    return paths


def merge_template(stage: Stage) -> dict[str, Any]:
    """What ``chalice package --merge-template`` adds to Chalice's own SAM template."""
    settings = stage_settings(stage)
    deployment = stage_deployment(stage)
    protect = deployment.deletion_protection
    bucket_arn = {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{settings.ingest_bucket}"}
    resources: dict[str, Any] = {
        f"{logical}Table": _table_resource(name, definition, protect)
        for logical, (name, definition) in _tables(settings).items()
    }
    for logical in _tables(settings):
        resources[f"{logical}Table"]["Condition"] = f"Create{logical}Table"
    resources |= {
        "IngestBucket": {
            "Type": "AWS::S3::Bucket",
            "Condition": "CreateIngestBucket",
            "DependsOn": ["IngestQueuePolicy"],
            "DeletionPolicy": "Retain" if protect else "Delete",
            "UpdateReplacePolicy": "Retain" if protect else "Delete",
            "Properties": {
                "BucketName": settings.ingest_bucket,
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "NotificationConfiguration": {
                    "QueueConfigurations": [
                        {"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]}}
                    ]
                },
            },
        },
        "IngestBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Condition": "CreateIngestBucket",
            "Properties": {
                "Bucket": {"Ref": "IngestBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                bucket_arn,
                                {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{settings.ingest_bucket}/*"},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
        "IngestQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": settings.ingest_queue,
                # Six times the ingest function's timeout, as Lambda's SQS guidance asks.
                "VisibilityTimeout": 720,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": INGEST_MAX_RECEIVES,
                },
            },
        },
        "IngestDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"{settings.ingest_queue}-dead-letters",
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        "IngestQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "IngestQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "IngestBucketAnnouncesNewFiles",
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["IngestQueue", "Arn"]},
                            "Condition": {
                                "ArnEquals": {"aws:SourceArn": bucket_arn},
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            },
                        }
                    ],
                },
            },
        },
        "PageTokenSecret": {
            "Type": "AWS::SecretsManager::Secret",
            "Condition": "CreatePageTokenSecret",
            "Properties": {
                "Name": settings.page_token_secret_id,
                "Description": "Signs next_token values; generated here, rotated with put-secret-value.",
                "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
            },
        },
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": deployment.alert_topic, "KmsMasterKeyId": "alias/aws/sns"},
        },
        # CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key, so this one
        # carries only alarm names and states.
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": deployment.alarm_topic}},
        "UsagePlan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": f"{SERVICE_NAME}-{stage}",
                "Description": "Per-API-key limits; keys are attached by `make api-key ... create`.",
                "ApiStages": [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}],
                "Throttle": {
                    "RateLimit": deployment.usage_plan.rate_limit,
                    "BurstLimit": deployment.usage_plan.burst_limit,
                },
                "Quota": {"Limit": deployment.usage_plan.quota_limit, "Period": deployment.usage_plan.quota_period},
            },
        },
        "RestAPI": {
            "Properties": {
                "Name": f"{SERVICE_NAME}-{stage}",
                # Without it SAM also deploys the API to a stray, unthrottled "Stage" stage.
                "OpenApiVersion": "2.0",
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "ThrottlingRateLimit": deployment.stage_throttle.rate_limit,
                        "ThrottlingBurstLimit": deployment.stage_throttle.burst_limit,
                        "MetricsEnabled": True,
                    }
                ],
                "DefinitionBody": {
                    "info": {"title": f"{SERVICE_NAME}-{stage}"},  # the API name alarms look for
                    "paths": _metered_paths(),
                    "securityDefinitions": {USAGE_PLAN_KEY: {"type": "apiKey", "name": "x-api-key", "in": "header"}},
                    "x-amazon-apigateway-api-key-source": "AUTHORIZER",
                    "x-amazon-apigateway-gateway-responses": openapi_gateway_responses(settings.retry_after_seconds),
                },
            }
        },
    }
    for function, logical in FUNCTION_RESOURCES.items():
        properties: dict[str, Any] = {"FunctionName": function_name(stage, function)}
        if function != "api_key_authorizer":
            properties["Environment"] = {"Variables": {"ALERT_TOPIC_ARN": {"Ref": "AlertTopic"}}}
        resources[logical] = {"Properties": properties}
    resources["IngestS3File"]["DependsOn"] = ["IngestQueue"]
    for function, logical in ROLE_RESOURCES.items():
        resources[logical] = {
            "Properties": {
                "Policies": [
                    {"PolicyName": f"{logical}Policy", "PolicyDocument": policy_document(stage, function, template_arn)}
                ]
            }
        }
    resources |= _alarms(stage, settings, deployment)
    existing = {f"{logical}Table": name for logical, (name, _) in _tables(settings).items()}
    existing["IngestBucket"] = settings.ingest_bucket
    existing["PageTokenSecret"] = str(settings.page_token_secret_id)
    return {
        "Parameters": {
            f"{resource}Exists": {
                "Type": "String",
                "AllowedValues": ["true", "false"],
                "Default": "false",
                "Description": f"true if {name} already exists (made by `make tables` or by hand): the stack "
                "uses it instead of creating it.",
            }
            for resource, name in existing.items()
        },
        "Conditions": {
            f"Create{resource}": {"Fn::Equals": [{"Ref": f"{resource}Exists"}, "false"]} for resource in existing
        },
        "Resources": resources,
        "Outputs": {
            "UsagePlanId": {"Value": {"Ref": "UsagePlan"}},
            "IngestDeadLetterQueueUrl": {"Value": {"Ref": "IngestDeadLetterQueue"}},
            "AlertTopicArn": {"Value": {"Ref": "AlertTopic"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        },
    }


def package(stage: Stage, out_dir: Path) -> Path:
    """``chalice package`` with the merge template; returns the packaged template's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    merge_path = out_dir / "merge-template.json"
    merge_path.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge_path), str(out_dir / "package")],
        cwd=REPO_ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")},
        check=True,
    )
    add_bytecode(out_dir / "package" / "deployment.zip")
    return out_dir / "package" / "sam.json"


LAMBDA_TASK_ROOT = "/var/task"


def bytecode_path(source: str) -> str:
    """Where Lambda's interpreter looks for a module's bytecode, whatever this interpreter's own
    ``PYTHONPYCACHEPREFIX`` or ``-O`` would say."""
    folder, _, file_name = source.rpartition("/")
    name = f"__pycache__/{file_name.removesuffix('.py')}.{sys.implementation.cache_tag}.pyc"
    return f"{folder}/{name}" if folder else name


def add_bytecode(package_zip: Path) -> int:
    """Add compiled bytecode for every module in ``package_zip``; returns how many were compiled.

    Chalice packages source only, and ``/var/task`` is read-only in Lambda, so without bytecode
    every cold start compiles every module it imports again (measured: ~730 ms instead of
    ~160 ms of CPU for ``import app``). Unchecked-hash pycs are used as they are, whatever
    timestamps the zip gives the sources; the package never changes after it is built, so
    there is nothing for a check to catch. Chalice targets the packaging interpreter's Python
    version, so its bytecode is the Lambda runtime's.
    """
    compiled = 0
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(package_zip) as source_zip:
        rebuilt = Path(scratch) / "deployment.zip"
        with zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_DEFLATED) as target_zip:
            for entry in source_zip.infolist():
                if "__pycache__/" in entry.filename:
                    continue  # the working tree's own bytecode, checked against local timestamps
                data = source_zip.read(entry)
                target_zip.writestr(entry, data)
                if not entry.filename.endswith(".py"):
                    continue
                module = Path(scratch) / "src" / entry.filename
                module.parent.mkdir(parents=True, exist_ok=True)
                module.write_bytes(data)
                bytecode_name = bytecode_path(entry.filename)
                try:
                    py_compile.compile(
                        str(module),
                        cfile=str(Path(scratch) / "pyc" / bytecode_name),
                        dfile=f"{LAMBDA_TASK_ROOT}/{entry.filename}",
                        doraise=True,
                        optimize=0,
                        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                    )
                except py_compile.PyCompileError:
                    continue  # not importable on this Python anyway (e.g. a vendored py2 file)
                bytecode = zipfile.ZipInfo(bytecode_name, date_time=entry.date_time)
                bytecode.external_attr = entry.external_attr
                bytecode.compress_type = zipfile.ZIP_DEFLATED
                target_zip.writestr(bytecode, (Path(scratch) / "pyc" / bytecode_name).read_bytes())
                compiled += 1
        shutil.move(rebuilt, package_zip)
    return compiled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("policies", help="regenerate .chalice/policy-<stage>-<function>.json")
    package_command = commands.add_parser("package", help="chalice package + merge template into --out")
    package_command.add_argument("--stage", choices=STAGES, required=True)
    package_command.add_argument("--out", type=Path, default=REPO_ROOT / "build")
    arguments = parser.parse_args(argv)
    if arguments.command == "policies":
        for path in write_policy_files():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    template = package(arguments.stage, arguments.out / arguments.stage)
    print(f"packaged {template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
