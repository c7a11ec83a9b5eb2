"""AWS clients built for a fast cold start, with everything boto3 would give them.

``boto3.client(...)`` is botocore's ``Session.create_client`` plus an import of boto3 (and with
it s3transfer, ~70 ms). Building clients from botocore directly keeps the same credentials
chain, region and endpoint settings (``AWS_ENDPOINT_URL_DYNAMODB``), signing and retries.
botocore's service models are JSON files parsed on first use; parsing them with orjson instead
of the standard library gives the same data in a fraction of the time.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import botocore.loaders
import botocore.session
import orjson
from botocore.config import Config


class OrjsonFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's model-file loader, parsing with orjson (same dicts, in file order)."""

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as model_file:
            return orjson.loads(model_file.read())


@cache
def aws_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.get_component("data_loader").file_loader = OrjsonFileLoader()
    return session


def aws_client(service: str, config: Config | None = None) -> Any:
    """What ``boto3.client(service, config=config)`` returns, without importing boto3."""
    return aws_session().create_client(service, config=config)
