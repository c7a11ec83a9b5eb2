"""Settings: typed, validated once, with errors that name the variable to fix."""

from __future__ import annotations

import re

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from chalicelib.settings import LOCAL_PAGE_TOKEN_SECRET, Settings, stored_secret
from scripts.deployment import stage_settings

PROD_SECRET = {"stage": "prod", "page_token_secret_id": "energy-metrics-api/prod/page-token-secret"}


def test_local_stage_uses_the_fixed_development_secret():
    assert Settings(stage="local").token_secret() == LOCAL_PAGE_TOKEN_SECRET


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_stage_without_a_secret_fails_naming_the_variables(stage: str):
    with pytest.raises(ValidationError, match="PAGE_TOKEN_SECRET_ID"):
        Settings.model_validate({"stage": stage})


def test_short_secret_is_rejected():
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings.model_validate({"stage": "local", "page_token_secret": "short"})


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_stages_refuse_a_secret_in_the_environment(stage: str):
    with pytest.raises(ValidationError, match="PAGE_TOKEN_SECRET is for the local stage"):
        Settings.model_validate(
            {"stage": stage, "page_token_secret": "s" * 48, "page_token_secret_id": "energy-metrics-api/x"}
        )


def test_secret_is_read_from_secrets_manager_in_aws_stages():
    stored_secret.cache_clear()
    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="energy-metrics-api/prod/page-token-secret", SecretString="s" * 48
        )
        settings = Settings.model_validate({**PROD_SECRET, "cors_allowed_origins": "https://dashboard.example.com"})

        assert settings.token_secret() == "s" * 48


def test_a_short_stored_secret_is_refused():
    stored_secret.cache_clear()
    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="energy-metrics-api/prod/page-token-secret", SecretString="short"
        )
        settings = Settings.model_validate({**PROD_SECRET, "cors_allowed_origins": "https://dashboard.example.com"})

        with pytest.raises(ValueError, match="at least 32 characters"):
            settings.token_secret()


def test_table_name_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DYNAMODB_TABLE", "EnergyMetrics-staging")

    assert Settings.from_environment().dynamodb_table == "EnergyMetrics-staging"


def test_origins_are_parsed_from_a_comma_separated_list():
    settings = Settings(cors_allowed_origins=" https://a.example.com, https://b.example.com/ ")

    assert settings.allowed_origins == ("https://a.example.com", "https://b.example.com")
    assert not settings.any_origin_allowed


def test_origin_without_scheme_is_rejected():
    with pytest.raises(ValidationError, match=re.escape("CORS_ALLOWED_ORIGINS entry 'dashboard.example.com'")):
        Settings(cors_allowed_origins="dashboard.example.com")


@pytest.mark.parametrize(
    "origins",
    ["*", "https://dashboard.example.com,*", "http://dashboard.example.com", "https://a.example.com,http://b"],
)
def test_prod_refuses_any_origin_or_plain_http(origins: str):
    with pytest.raises(ValidationError, match=r"CORS_ALLOWED_ORIGINS entry .* not allowed in the prod stage"):
        Settings.model_validate({**PROD_SECRET, "cors_allowed_origins": origins})


@pytest.mark.parametrize("origins", ["", " , "])
def test_prod_refuses_an_empty_origin_list(origins: str):
    with pytest.raises(ValidationError, match="CORS_ALLOWED_ORIGINS must name at least one https:// origin"):
        Settings.model_validate({**PROD_SECRET, "cors_allowed_origins": origins})


def test_prod_accepts_https_origins():
    settings = Settings.model_validate({**PROD_SECRET, "cors_allowed_origins": "https://dashboard.example.com"})

    assert settings.allowed_origins == ("https://dashboard.example.com",)


def test_dev_still_accepts_plain_http_origins():
    settings = Settings.model_validate({**PROD_SECRET, "stage": "dev", "cors_allowed_origins": "http://localhost:3000"})

    assert settings.allowed_origins == ("http://localhost:3000",)


def test_prod_config_origins_pass_validation():
    assert stage_settings("prod").allowed_origins == ("https://dashboard.example.com",)


def test_unknown_stage_is_rejected():
    with pytest.raises(ValidationError, match="stage"):
        Settings.model_validate({"stage": "staging"})


def test_secret_id_is_a_name_not_an_arn():
    with pytest.raises(ValidationError, match="page_token_secret_id"):
        Settings.model_validate(
            {**PROD_SECRET, "page_token_secret_id": "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf"}
        )
