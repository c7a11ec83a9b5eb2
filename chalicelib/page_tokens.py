"""Opaque, signed, expiring ``next_token`` values bound to one endpoint and one exact query.

The token carries only the position inside the query's own partition (see ``readings``); the
partition (site) always comes from the request, and the signature covers a digest of every
query parameter, so a token can neither be forged nor replayed against another site or range.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from chalicelib.errors import InvalidPageToken, StoreUnavailable
from chalicelib.settings import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)

Position = dict[str, Any]


class PageTokenCodec:
    """Signs with the current secret, fetched per use (its provider caches), so a rotation
    takes effect in running containers too."""

    def __init__(self, secret: str | Callable[[], str], ttl_seconds: int) -> None:
        self._secret = secret if callable(secret) else (lambda: secret)
        self._ttl_seconds = ttl_seconds

    def _serializer(self) -> URLSafeTimedSerializer:
        try:
            secret = self._secret()
        except Exception as error:
            logger.exception("Page-token secret unavailable")
            raise StoreUnavailable() from error
        return URLSafeTimedSerializer(secret, salt="energy-metrics-page-token")

    def encode(self, endpoint: str, query: Mapping[str, Any], position: Position) -> str:
        return self._serializer().dumps({"e": endpoint, "q": query_digest(query), "p": position})

    def decode(self, token: str, endpoint: str, query: Mapping[str, Any]) -> Position:
        """Return the position to resume from, or raise :class:`InvalidPageToken`."""
        serializer = self._serializer()
        try:
            payload = serializer.loads(token, max_age=self._ttl_seconds)
        except SignatureExpired:
            raise InvalidPageToken(
                "next_token has expired. Start again from the first page (omit next_token)."
            ) from None
        except BadSignature:
            raise InvalidPageToken(
                "next_token is not valid. Pass back the next_token value exactly as it was returned."
            ) from None
        if not isinstance(payload, dict) or payload.get("e") != endpoint:
            raise InvalidPageToken(f"next_token was not issued by {endpoint}.")
        if payload.get("q") != query_digest(query):
            raise InvalidPageToken(
                "next_token belongs to a different query. Repeat the original parameters "
                "unchanged with next_token, or omit next_token to start a new query."
            )
        position = payload.get("p")
        if not isinstance(position, dict):
            raise InvalidPageToken("next_token is not valid.")
        return position


def query_digest(query: Mapping[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
