"""Typed configuration, read once from the environment that ``.chalice/config.json`` sets per stage.

A missing or malformed variable fails at start-up with its name, not at the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

if TYPE_CHECKING:
    from chalicelib.stored_secrets import CachedSecret

# Only ever used when STAGE=local; any other stage must supply PAGE_TOKEN_SECRET.
LOCAL_PAGE_TOKEN_SECRET = "local-development-page-token-secret-not-for-aws"  # noqa: S105

SERVICE_NAME = "energy-metrics-api"
SERVICE_VERSION = "1.0.0"


class Settings(BaseModel):
    """Each field is read from the environment variable of the same name in upper case."""

    model_config = ConfigDict(extra="ignore")

    stage: Literal["local", "dev", "prod"] = "local"
    dynamodb_table: str = Field(default="EnergyMetrics", min_length=3, max_length=255)
    page_token_secret: SecretStr | None = None
    page_token_secret_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",  # a name, not an ARN: the policy and template build on it
        description="Name of the Secrets Manager secret holding the page-token secret (AWS stages).",
    )
    page_token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    cors_allowed_origins: str = Field(
        default="*",
        description="'*' for any origin, or a comma-separated list of exact origins.",
    )
    retry_after_seconds: int = Field(default=2, ge=1, le=300)
    rollups_table: str = Field(default="EnergyMetricsRollups", min_length=3, max_length=255)
    sites_table: str = Field(default="EnergyMetricsSites", min_length=3, max_length=255)
    api_keys_table: str = Field(default="EnergyMetricsApiKeys", min_length=3, max_length=255)
    alert_topic_arn: str | None = Field(default=None, description="SNS topic for anomaly alerts; unset: log them")
    alert_min_severity: Literal["low", "medium", "high", "critical"] = "high"
    ingest_budget_seconds: float = Field(default=20.0, gt=0, le=28)
    ingest_bucket: str = Field(default="energy-metrics-ingest-local", min_length=3, max_length=63)
    ingest_queue: str = Field(default="energy-metrics-ingest-local", min_length=1, max_length=80)
    auth_enabled: bool = Field(default=True, description="API keys on data routes; only 'local' may turn it off")
    late_data_seconds: int = Field(default=3600, ge=0, description="after this, a past window gets no new readings")
    open_window_max_age_seconds: int = Field(default=10, ge=0, le=300)
    response_cache_enabled: bool = True
    response_cache_bytes: int = Field(default=8 * 1024 * 1024, ge=0, le=64 * 1024 * 1024)

    @model_validator(mode="after")
    def _refuse_unsafe_settings_outside_local(self) -> Settings:
        if not self.auth_enabled and self.stage != "local":
            raise ValueError(f"AUTH_ENABLED=false is only allowed in the local stage, not '{self.stage}'")
        if self.stage != "local":
            if self.page_token_secret is not None:
                raise ValueError(
                    f"PAGE_TOKEN_SECRET is for the local stage; '{self.stage}' reads its secret from "
                    "Secrets Manager (PAGE_TOKEN_SECRET_ID), so it is never in config or the environment"
                )
            if self.page_token_secret_id is None:
                raise ValueError(f"stage '{self.stage}' needs PAGE_TOKEN_SECRET_ID (a Secrets Manager secret)")
        elif self.page_token_secret is None and self.page_token_secret_id is None:
            self.page_token_secret = SecretStr(LOCAL_PAGE_TOKEN_SECRET)
        if self.page_token_secret is not None and len(self.page_token_secret.get_secret_value()) < 32:
            raise ValueError("PAGE_TOKEN_SECRET must be at least 32 characters")
        for origin in self.allowed_origins:
            if origin != "*" and not origin.startswith(("https://", "http://")):
                raise ValueError(f"CORS_ALLOWED_ORIGINS entry '{origin}' must be '*' or a full origin")
        if self.stage == "prod":
            self._refuse_unsafe_prod_origins()
        return self

    def _refuse_unsafe_prod_origins(self) -> None:
        if not self.allowed_origins:
            raise ValueError("CORS_ALLOWED_ORIGINS must name at least one https:// origin in the prod stage")
        for origin in self.allowed_origins:
            if origin == "*" or origin.startswith("http://"):
                raise ValueError(
                    f"CORS_ALLOWED_ORIGINS entry '{origin}' is not allowed in the prod stage: list https:// origins"
                )

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return tuple(origin.strip().rstrip("/") for origin in self.cors_allowed_origins.split(",") if origin.strip())

    @property
    def any_origin_allowed(self) -> bool:
        return "*" in self.allowed_origins

    def token_secret(self) -> str:
        """The page-token secret: from the environment, else Secrets Manager (cached 5 minutes)."""
        if self.page_token_secret is not None:
            return self.page_token_secret.get_secret_value()
        assert self.page_token_secret_id is not None  # guaranteed by the validator
        secret = stored_secret(self.page_token_secret_id).get()
        if len(secret) < 32:
            raise ValueError(f"secret {self.page_token_secret_id} must hold at least 32 characters")
        return secret

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        """Fields from variables of the same name (any case). Plain pydantic, not pydantic-settings:
        that library's import alone cost ~60 ms of every cold start, for a mapping this simple."""
        fields = cls.model_fields
        return cls.model_validate(
            {name.lower(): value for name, value in environment.items() if name.lower() in fields}
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment()


SECRET_MAX_AGE_SECONDS = 300


@cache
def stored_secret(secret_id: str) -> CachedSecret:
    from chalicelib.aws_clients import REQUEST_PATH_CONFIG, aws_client  # noqa: PLC0415 - AWS stages only
    from chalicelib.stored_secrets import CachedSecret  # noqa: PLC0415

    client = partial(aws_client, "secretsmanager", REQUEST_PATH_CONFIG)  # a hung call: a quick 503
    return CachedSecret(secret_id, SECRET_MAX_AGE_SECONDS, cache(client))
