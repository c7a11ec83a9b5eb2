"""Clients built without boto3 load exactly the models boto3's clients load."""

from __future__ import annotations

import botocore.loaders
import pytest

from chalicelib.aws_clients import OrjsonFileLoader, aws_client


@pytest.mark.parametrize(
    ("type_name", "service"),
    [
        ("service-2", "dynamodb"),
        ("endpoint-rule-set-1", "dynamodb"),
        ("paginators-1", "dynamodb"),
        ("service-2", "sns"),
    ],
)
def test_orjson_loader_reads_the_same_service_models(type_name: str, service: str):
    default = botocore.loaders.Loader()
    fast = botocore.loaders.Loader(file_loader=OrjsonFileLoader())

    assert fast.load_service_model(service, type_name) == default.load_service_model(service, type_name)


def test_orjson_loader_reads_the_same_endpoints_and_partitions():
    default = botocore.loaders.Loader()
    fast = botocore.loaders.Loader(file_loader=OrjsonFileLoader())

    assert fast.load_data("endpoints") == default.load_data("endpoints")
    assert fast.load_data("partitions") == default.load_data("partitions")


def test_client_honours_the_dynamodb_endpoint_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:4567")

    assert aws_client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4567"
