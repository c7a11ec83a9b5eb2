"""Query responses parsed by orjson instead of botocore's generic response parser.

Profiling a 1,000-item page showed botocore's parser (shape-walking every attribute of every
item) costing more than everything else in the request. DynamoDB's JSON wire format *is* the
low-level client's output format, except that binary values arrive base64-encoded, so a
successful Query body can be loaded as is. The hook runs inside botocore's own pipeline, after
signing, credentials and the HTTP call; botocore's CRC32 check and retries still run afterwards
on the raw bytes. Error responses, bodies holding binary values, and anything orjson cannot read
are left to botocore untouched.
"""

from __future__ import annotations

from typing import Any

import orjson

_OPERATIONS = ("Query",)
_BINARY_MARKERS = (b'"B":', b'"BS":')


def parse_with_orjson(client: Any) -> Any:
    """Install the fast parse on ``client`` (for its successful Query responses); returns it."""
    for operation in _OPERATIONS:
        client.meta.events.register(
            f"before-parse.dynamodb.{operation}", _load_body_directly, unique_id=f"orjson-{operation}"
        )
    return client


def _load_body_directly(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or any(marker in body for marker in _BINARY_MARKERS):
        return
    try:
        parsed = orjson.loads(body)
    except ValueError:  # orjson.JSONDecodeError
        return  # a damaged body: botocore's parser and CRC32 check decide (and retry)
    customized_response_dict.update(parsed)
    response_dict["body"] = b"{}"  # botocore now parses only the headers into ResponseMetadata
