"""Clients built without boto3 load exactly the models boto3's clients load."""

from __future__ import annotations

import botocore.loaders
import pytest
from botocore.exceptions import DataNotFoundError, UnknownServiceError

from chalicelib.aws_clients import OrjsonFileLoader, ServiceModelLoader, aws_client, aws_session


def fast_loader() -> ServiceModelLoader:
    return ServiceModelLoader(file_loader=OrjsonFileLoader())


@pytest.mark.parametrize(
    ("type_name", "service"),
    [
        ("service-2", "dynamodb"),
        ("endpoint-rule-set-1", "dynamodb"),
        ("paginators-1", "dynamodb"),
        ("service-2", "sns"),
        ("service-2", "s3"),  # a model with service-2.sdk-extras applied on top
        ("service-2", "ssm"),
    ],
)
def test_fast_loader_reads_the_same_service_models(type_name: str, service: str):
    assert fast_loader().load_service_model(service, type_name) == botocore.loaders.Loader().load_service_model(
        service, type_name
    )


def test_fast_loader_reads_an_older_api_version_when_asked():
    older = fast_loader().load_service_model("dynamodb", "endpoint-rule-set-1", api_version="2011-12-05")

    assert older == botocore.loaders.Loader().load_service_model("dynamodb", "endpoint-rule-set-1", "2011-12-05")


def test_fast_loader_never_lists_every_service(monkeypatch: pytest.MonkeyPatch):
    loader = fast_loader()

    def walk_everything(type_name: str) -> list[str]:
        raise AssertionError(f"listed every service for {type_name}")

    monkeypatch.setattr(loader, "list_available_services", walk_everything)

    assert loader.load_service_model("dynamodb", "service-2")["metadata"]["endpointPrefix"] == "dynamodb"


def test_unknown_service_is_still_botocores_own_error():
    with pytest.raises(UnknownServiceError, match="dynamodb"):  # the message lists the known services
        fast_loader().load_service_model("no-such-service", "service-2")


def test_unknown_api_version_is_still_data_not_found():
    with pytest.raises(DataNotFoundError):
        fast_loader().load_service_model("dynamodb", "service-2", api_version="1999-01-01")


def test_orjson_loader_reads_the_same_endpoints_and_partitions():
    default = botocore.loaders.Loader()
    fast = fast_loader()

    assert fast.load_data("endpoints") == default.load_data("endpoints")
    assert fast.load_data("partitions") == default.load_data("partitions")


def test_session_keeps_botocores_search_paths():
    assert aws_session().get_component("data_loader").search_paths == botocore.loaders.Loader().search_paths


def test_client_honours_the_dynamodb_endpoint_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:4567")

    assert aws_client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4567"


def test_fast_loader_loads_each_model_once():
    loader = fast_loader()

    assert loader.load_service_model("s3", "service-2") is loader.load_service_model("s3", "service-2")
