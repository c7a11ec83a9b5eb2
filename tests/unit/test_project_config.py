"""The per-stage Chalice configuration yields valid settings, and routes pass Chalice's deploy checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

    settings = Settings()

    assert settings.stage == stage
    assert settings.dynamodb_table == "EnergyMetrics"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_stages_list_explicit_origins(stage: str):
    origins = stage_environment(stage)["CORS_ALLOWED_ORIGINS"].split(",")

    assert "*" not in origins
    assert all(origin.startswith("https://") or origin.startswith("http://localhost") for origin in origins)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_stages_use_a_least_privilege_policy_file(stage: str):
    policy_file = CONFIG["stages"][stage]["iam_policy_file"]
    policy: dict[str, Any] = json.loads((Path(".chalice") / policy_file).read_text())

    assert CONFIG["stages"][stage]["autogen_policy"] is False
    for statement in policy["Statement"]:
        assert "*" not in statement["Action"]
        assert all(resource != "*" for resource in statement["Resource"])


def test_routes_pass_chalice_deploy_validation():
    validate_routes(app.routes)
