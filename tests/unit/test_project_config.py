"""The per-stage Chalice configuration yields valid settings, and routes pass Chalice's deploy checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalice.deploy.validate import validate_routes

from app import app
from chalicelib.settings import Settings

CONFIG = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())


def stage_environment(stage: str) -> dict[str, str]:
    return {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_stage_configuration_gives_valid_settings(stage: str, monkeypatch: pytest.MonkeyPatch):
    for name, value in stage_environment(stage).items():
        monkeypatch.setenv(name, value)

    settings = Settings.from_environment()

    assert settings.stage == stage
    assert settings.dynamodb_table == "EnergyMetrics"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_stages_list_explicit_origins(stage: str):
    origins = stage_environment(stage)["CORS_ALLOWED_ORIGINS"].split(",")

    assert "*" not in origins
    assert all(origin.startswith("https://") or origin.startswith("http://localhost") for origin in origins)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_of_an_aws_stage_has_its_own_policy_file(stage: str):
    functions = CONFIG["stages"][stage]["lambda_functions"]

    assert CONFIG["stages"][stage]["autogen_policy"] is False
    assert set(functions) == {"api_handler", "api_key_authorizer", "ingest_s3_file"}
    for function, options in functions.items():
        assert options["iam_policy_file"] == f"policy-{stage}-{function}.json"
        assert (Path(".chalice") / options["iam_policy_file"]).is_file()


def test_routes_pass_chalice_deploy_validation():
    validate_routes(app.routes)


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_every_stage_logs_the_per_request_line(stage: str):
    """The request line is logged at INFO; a stricter level would leave operators with no logs."""
    level = stage_environment(stage).get("POWERTOOLS_LOG_LEVEL", "INFO")

    assert level in {"DEBUG", "INFO"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_stages_trace_with_x_ray(stage: str):
    assert CONFIG["stages"][stage]["xray"] is True
