"""AWS clients built for a fast cold start, with everything boto3 would give them.

``boto3.client(...)`` is botocore's ``Session.create_client`` plus an import of boto3 (and with
it s3transfer, ~70 ms). Building clients from botocore directly keeps the same credentials
chain, region and endpoint settings (``AWS_ENDPOINT_URL_DYNAMODB``), signing and retries.
botocore's service models are JSON files parsed on first use; parsing them with orjson instead
of the standard library gives the same data in a fraction of the time, and looking a model up in
its own service's folder, instead of listing every service first, saves ~20 ms more.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import botocore.loaders
import botocore.session
import orjson
from botocore.config import Config
from botocore.exceptions import DataNotFoundError


class OrjsonFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's model-file loader, parsing with orjson (same dicts, in file order)."""

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as model_file:
            return orjson.loads(model_file.read())


class ServiceModelLoader(botocore.loaders.Loader):
    """botocore's model loader, minus a walk of every service's folders per model.

    botocore checks that a service exists by listing all ~450 installed services (a directory
    walk per model type, two per client: ~20 ms of CPU on every cold start). Finding the
    service's own API versions answers the same question; a name that has none goes to
    botocore, whose ``UnknownServiceError`` lists the known services as usual.
    """

    @botocore.loaders.instance_cache
    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        try:
            latest = self.determine_latest_version(service_name, type_name)
        except DataNotFoundError:
            return super().load_service_model(service_name, type_name, api_version)
        version = api_version or latest
        model = self.load_data(os.path.join(service_name, version, type_name))
        extras = self._find_extras(service_name, type_name, version)  # type: ignore[attr-defined]
        self._extras_processor.process(model, extras)  # type: ignore[attr-defined]
        return model


# Fail fast inside API Gateway's 29 s budget: a few quick retries, then a 503 with Retry-After.
REQUEST_PATH_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)


@cache
def aws_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    default = session.get_component("data_loader")  # honours AWS_DATA_PATH
    session.register_component(
        "data_loader",
        ServiceModelLoader(
            extra_search_paths=list(default.search_paths),
            file_loader=OrjsonFileLoader(),
            include_default_search_paths=False,
        ),
    )
    return session


def aws_client(service: str, config: Config | None = None) -> Any:
    """What ``boto3.client(service, config=config)`` returns, without importing boto3."""
    return aws_session().create_client(service, config=config)
