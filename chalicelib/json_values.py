"""The two JSON value forms DynamoDB data needs beyond plain JSON: exact numbers and binary."""

from __future__ import annotations

import base64

import orjson


def json_number(digits: str) -> orjson.Fragment:
    """A number as its own digits, embedded verbatim by ``orjson``: exact, and no ``Decimal``."""
    return orjson.Fragment(digits)


def base64_text(value: bytes) -> str:
    return base64.b64encode(value).decode()
