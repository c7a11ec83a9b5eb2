"""The packaged CloudFormation template: valid under cfn-lint, and safe by construction."""

from __future__ import annotations

import copy
import importlib.util
import json
import marshal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import PERMISSIONS, PUBLIC_PATHS
from chalicelib.tables import API_KEYS_TABLE, READINGS_TABLE, ROLLUPS_TABLE, SITES_TABLE
from scripts.deployment import (
    FUNCTIONS,
    STAGES,
    Stage,
    bytecode_path,
    function_name,
    package,
    policy_path,
    render_policy_file,
    stage_deployment,
    stage_settings,
)

Template = dict[str, Any]


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("package")
    return {stage: package(stage, out / stage) for stage in STAGES}


@pytest.fixture(scope="session", params=STAGES)
def stage(request: pytest.FixtureRequest) -> Stage:
    chosen: Stage = request.param
    return chosen


@pytest.fixture(scope="session")
def template(packaged: dict[str, Path], stage: Stage) -> Template:
    loaded: Template = json.loads(packaged[stage].read_text())
    return loaded


def resources_of(template: Template, resource_type: str) -> dict[str, Any]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def test_template_passes_cfn_lint(packaged: dict[str, Path], stage: Stage):
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    result = subprocess.run([cfn_lint, str(packaged[stage])], check=False, capture_output=True, text=True)  # noqa: S603

    assert result.returncode == 0, result.stdout + result.stderr


UNCHECKED_HASH_FLAGS = (0b01).to_bytes(4, "little")  # hash-based, never checked against the source


def bytecode_of(package_zip: zipfile.ZipFile) -> dict[str, bytes]:
    return {name: package_zip.read(name) for name in package_zip.namelist() if name.endswith(".pyc")}


def test_every_packaged_module_ships_bytecode_lambda_uses_as_is(packaged: dict[str, Path], stage: Stage):
    with zipfile.ZipFile(packaged[stage].with_name("deployment.zip")) as package_zip:
        sources = {name: package_zip.read(name) for name in package_zip.namelist() if name.endswith(".py")}
        bytecode = bytecode_of(package_zip)

    expected = {
        bytecode_path(name): importlib.util.MAGIC_NUMBER + UNCHECKED_HASH_FLAGS + importlib.util.source_hash(source)
        for name, source in sources.items()
    }
    assert {name: pyc[:16] for name, pyc in bytecode.items()} == expected


def test_bytecode_goes_where_lambda_looks_whatever_the_packaging_interpreter_says(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(sys, "pycache_prefix", "/elsewhere/pycache")
    tag = sys.implementation.cache_tag

    assert bytecode_path("app.py") == f"__pycache__/app.{tag}.pyc"
    assert bytecode_path("chalicelib/http.py") == f"chalicelib/__pycache__/http.{tag}.pyc"


def test_packaged_bytecode_names_the_files_where_lambda_unpacks_them(packaged: dict[str, Path], stage: Stage):
    with zipfile.ZipFile(packaged[stage].with_name("deployment.zip")) as package_zip:
        app_bytecode = package_zip.read(bytecode_path("app.py"))

    assert marshal.loads(app_bytecode[16:]).co_filename == "/var/task/app.py"  # noqa: S302 - our own build output


def test_every_data_route_has_the_authorizer_and_usage_plan_key(template: Template):
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]

    secured = {
        (path, method.upper())
        for path, methods in paths.items()
        for method, operation in methods.items()
        if {"api_key_authorizer", "api_key"} <= {name for entry in operation.get("security", []) for name in entry}
    }

    assert secured == {(permission.path, permission.method) for permission in PERMISSIONS}
    assert {path for path, _ in secured} >= {"/records", "/anomalies", "/sites", "/sites/{site_id}/summary"}


def test_service_routes_and_preflights_stay_open(template: Template):
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]

    open_routes = {
        (path, method.upper())
        for path, methods in paths.items()
        for method, op in methods.items()
        if "security" not in op
    }

    assert open_routes == {("/", "GET"), ("/health", "GET")} | {(path, "OPTIONS") for path in PUBLIC_PATHS}


def test_usage_plan_keys_come_from_the_authorizer(template: Template):
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["api_key_authorizer"]

    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    assert authorizer["x-amazon-apigateway-authorizer"]["type"] == "token"
    assert authorizer["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == 60


def test_usage_plan_is_attached_to_the_api_stage_with_the_stage_limits(template: Template, stage: Stage):
    (plan,) = resources_of(template, "AWS::ApiGateway::UsagePlan").values()
    limits = stage_deployment(stage).usage_plan

    assert plan["Properties"]["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
    assert plan["Properties"]["Throttle"] == {"RateLimit": limits.rate_limit, "BurstLimit": limits.burst_limit}
    assert plan["Properties"]["Quota"] == {"Limit": limits.quota_limit, "Period": limits.quota_period}


def test_stage_has_default_throttling(template: Template, stage: Stage):
    (settings,) = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    throttle = stage_deployment(stage).stage_throttle

    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (
        throttle.rate_limit,
        throttle.burst_limit,
    )


@pytest.mark.parametrize(
    ("response_type", "status"),
    [("UNAUTHORIZED", 401), ("ACCESS_DENIED", 403), ("THROTTLED", 429), ("QUOTA_EXCEEDED", 429)],
)
def test_gateway_errors_are_problem_json(template: Template, response_type: str, status: int):
    responses = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"
    ]
    response = responses[response_type]

    assert response["statusCode"] == str(status)
    assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert json.loads(response["responseTemplates"]["application/json"])["status"] == status


def test_tables_and_indexes_come_from_the_table_definitions(template: Template, stage: Stage):
    settings = stage_settings(stage)
    tables = {body["Properties"]["TableName"]: body for body in resources_of(template, "AWS::DynamoDB::Table").values()}

    for name, definition in [
        (settings.dynamodb_table, READINGS_TABLE),
        (settings.rollups_table, ROLLUPS_TABLE),
        (settings.sites_table, SITES_TABLE),
        (settings.api_keys_table, API_KEYS_TABLE),
    ]:
        expected = definition.create_table_request(name)
        assert tables[name]["Properties"]["KeySchema"] == expected["KeySchema"]
        assert tables[name]["Properties"].get("GlobalSecondaryIndexes") == expected.get("GlobalSecondaryIndexes")


def test_tables_are_on_demand_encrypted_and_recoverable(template: Template):
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        assert properties["SSESpecification"] == {"SSEEnabled": True}, name
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name


def test_prod_tables_are_protected_from_deletion(packaged: dict[str, Path]):
    prod: Template = json.loads(packaged["prod"].read_text())

    for name, table in resources_of(prod, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain"), name


@pytest.mark.parametrize(
    "resource", ["ReadingsTable", "RollupsTable", "SitesTable", "ApiKeysTable", "IngestBucket", "PageTokenSecret"]
)
def test_existing_tables_bucket_and_secret_can_be_kept_out_of_the_stack(template: Template, resource: str):
    assert template["Resources"][resource]["Condition"] == f"Create{resource}"
    assert template["Parameters"][f"{resource}Exists"]["Default"] == "false"


@pytest.fixture(scope="session")
def transformed(template: Template, monkeypatch_session: pytest.MonkeyPatch) -> Template:
    """The plain CloudFormation that SAM's own translator makes of the template, as AWS would."""
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]  # noqa: PLC0415

    monkeypatch_session.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sam = copy.deepcopy(template)
    for function in resources_of(sam, "AWS::Serverless::Function").values():
        function["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"  # what `aws cloudformation package` does
    translated: Template = transform(sam, {}, _NoManagedPolicies())
    return translated


class _NoManagedPolicies:
    def get_policies(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_api_is_deployed_to_one_stage_only(transformed: Template):
    stages = resources_of(transformed, "AWS::ApiGateway::Stage")

    assert [stage["Properties"]["StageName"] for stage in stages.values()] == ["api"]


def test_usage_plan_meters_the_deployed_stage(transformed: Template):
    (stage_name,) = resources_of(transformed, "AWS::ApiGateway::Stage")
    plan = transformed["Resources"]["UsagePlan"]["Properties"]

    assert plan["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": stage_name}}]
    assert transformed["Resources"]["RestAPI"]["Properties"]["Body"]["x-amazon-apigateway-api-key-source"] == (
        "AUTHORIZER"
    )


def test_api_name_is_the_one_the_alarms_watch(template: Template, stage: Stage):
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    latency = template["Resources"]["ApiLatencyAlarm"]["Properties"]["Dimensions"]

    assert {"Name": "ApiName", "Value": body["info"]["title"]} in latency
    assert body["info"]["title"] == template["Resources"]["RestAPI"]["Properties"]["Name"]


def test_ingest_bucket_is_private_encrypted_and_tls_only(template: Template):
    (bucket,) = resources_of(template, "AWS::S3::Bucket").values()
    (policy,) = resources_of(template, "AWS::S3::BucketPolicy").values()

    assert set(bucket["Properties"]["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_new_files_reach_the_ingest_function_through_a_queue_with_dead_letters(template: Template):
    bucket = template["Resources"]["IngestBucket"]["Properties"]
    queue = template["Resources"]["IngestQueue"]["Properties"]
    event = template["Resources"]["IngestS3File"]["Properties"]["Events"]

    assert bucket["NotificationConfiguration"]["QueueConfigurations"][0]["Queue"] == {
        "Fn::GetAtt": ["IngestQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] >= 6 * template["Resources"]["IngestS3File"]["Properties"]["Timeout"]
    (source,) = event.values()
    assert source["Properties"]["Queue"]["Fn::Sub"].endswith(f":{queue['QueueName']}")


def test_queues_and_alert_topic_are_encrypted(template: Template):
    for name, queue in resources_of(template, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name
    assert template["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


def test_alarms_cover_errors_latency_and_throttles(template: Template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    metrics = set()
    for alarm in alarms.values():
        properties = alarm["Properties"]
        metrics.add(properties.get("MetricName"))
        metrics |= {m["MetricStat"]["Metric"]["MetricName"] for m in properties.get("Metrics", []) if "MetricStat" in m}

    assert {"5XXError", "Latency", "ReadThrottleEvents", "WriteThrottleEvents", "Throttles"} <= metrics
    assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for alarm in alarms.values())


def _dynamodb_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for statement in document["Statement"]
        if any(str(action).startswith("dynamodb:") or action == "*" for action in _as_list(statement["Action"]))
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_text(resource: Any) -> str:
    return resource["Fn::Sub"] if isinstance(resource, dict) else str(resource)


def assert_no_dynamodb_wildcards(document: dict[str, Any]) -> None:
    for statement in _dynamodb_statements(document):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{statement['Sid']}: wildcard action {action}"
        for resource in _as_list(statement["Resource"]):
            text = _resource_text(resource)
            assert text != "*", f"{statement['Sid']}: every resource"
            # arn:partition:dynamodb:region:account:table/NAME[/index/NAME]: the table and index are exact.
            assert "*" not in text.split(":", 5)[5], f"{statement['Sid']}: wildcard in {text}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_files_grant_no_dynamodb_wildcards(stage: Stage, function: str):
    assert_no_dynamodb_wildcards(json.loads(policy_path(stage, function).read_text()))


def test_template_roles_grant_no_dynamodb_wildcards(template: Template):
    roles = resources_of(template, "AWS::IAM::Role")

    assert set(roles) == {"ApiHandlerRole", "ApiKeyAuthorizerRole", "IngestS3FileRole"}
    for role in roles.values():
        for policy in role["Properties"]["Policies"]:
            assert_no_dynamodb_wildcards(policy["PolicyDocument"])


def test_wildcard_check_catches_a_table_wildcard():
    document = {
        "Statement": [{"Sid": "Bad", "Action": ["dynamodb:Query"], "Resource": ["arn:aws:dynamodb:*:*:table/*"]}]
    }

    with pytest.raises(AssertionError, match="wildcard in"):
        assert_no_dynamodb_wildcards(document)


def test_only_the_authorizer_reads_api_keys(template: Template, stage: Stage):
    keys_table = stage_settings(stage).api_keys_table
    readers = {
        name
        for name, role in resources_of(template, "AWS::IAM::Role").items()
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for resource in _as_list(statement["Resource"])
        if _resource_text(resource).endswith(f"table/{keys_table}")
    }

    assert readers == {"ApiKeyAuthorizerRole"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_files_are_generated_from_the_definitions(stage: Stage, function: str):
    assert policy_path(stage, function).read_text() == render_policy_file(stage, function), "run `make policies`"


def test_functions_are_named_as_their_log_permissions_expect(template: Template, stage: Stage):
    functions = resources_of(template, "AWS::Serverless::Function")

    assert {body["Properties"]["FunctionName"] for body in functions.values()} == {
        function_name(stage, function) for function in FUNCTIONS
    }


def test_aws_stages_take_the_token_secret_from_secrets_manager_not_the_repository(stage: Stage):
    settings = stage_settings(stage)

    assert settings.page_token_secret is None
    assert settings.page_token_secret_id == f"energy-metrics-api/{stage}/page-token-secret"


def test_the_stack_generates_the_token_secret_the_functions_read(template: Template, stage: Stage):
    (secret,) = resources_of(template, "AWS::SecretsManager::Secret").values()

    assert secret["Properties"]["Name"] == stage_settings(stage).page_token_secret_id
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]


def test_only_the_api_handler_reads_the_token_secret(template: Template, stage: Stage):
    readers = {
        function: statement["Resource"]
        for function in FUNCTIONS
        for statement in json.loads(render_policy_file(stage, function))["Statement"]
        if "secretsmanager:GetSecretValue" in statement["Action"]
    }

    assert readers == {
        "api_handler": [f"arn:aws:secretsmanager:*:*:secret:energy-metrics-api/{stage}/page-token-secret-??????"]
    }


def test_functions_are_traced_with_x_ray(template: Template):
    functions = resources_of(template, "AWS::Serverless::Function")

    assert {name: body["Properties"]["Tracing"] for name, body in functions.items()} == dict.fromkeys(
        functions, "Active"
    )


def test_large_answers_are_compressed_by_api_gateway(template: Template):
    assert template["Resources"]["RestAPI"]["Properties"]["MinimumCompressionSize"] == 1024
