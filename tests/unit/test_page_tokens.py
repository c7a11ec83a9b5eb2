"""Page tokens: round trip, binding to endpoint and query, tamper evidence."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from chalicelib.errors import InvalidPageToken, StoreUnavailable
from chalicelib.page_tokens import PageTokenCodec, query_digest

SECRET = "k" * 40
QUERY = {"site_id": "site_1", "limit": 10}


def test_round_trip_returns_the_position():
    codec = PageTokenCodec(SECRET, 3600)

    token = codec.encode("/records", QUERY, {"s": "2025-02-17T10:00:00", "n": 2})

    assert codec.decode(token, "/records", QUERY) == {"s": "2025-02-17T10:00:00", "n": 2}


def test_query_order_of_keys_does_not_matter():
    codec = PageTokenCodec(SECRET, 3600)
    token = codec.encode("/records", {"a": 1, "b": 2}, {"s": "x", "n": 0})

    assert codec.decode(token, "/records", {"b": 2, "a": 1}) == {"s": "x", "n": 0}


def test_token_for_another_endpoint_is_rejected():
    codec = PageTokenCodec(SECRET, 3600)
    token = codec.encode("/records", QUERY, {"s": "x", "n": 0})

    with pytest.raises(InvalidPageToken, match="not issued by /anomalies"):
        codec.decode(token, "/anomalies", QUERY)


def test_signed_payload_of_the_wrong_shape_is_rejected():
    forged_by_key_holder = URLSafeTimedSerializer(SECRET, salt="energy-metrics-page-token").dumps(
        {"e": "/records", "q": query_digest(QUERY), "p": "not-a-position"}
    )

    with pytest.raises(InvalidPageToken, match="not valid"):
        PageTokenCodec(SECRET, 3600).decode(forged_by_key_holder, "/records", QUERY)


def test_rotated_secret_invalidates_earlier_tokens():
    current = {"secret": "a" * 40}
    codec = PageTokenCodec(lambda: current["secret"], 3600)
    token = codec.encode("/records", QUERY, {"s": "x", "n": 0})
    current["secret"] = "b" * 40

    with pytest.raises(InvalidPageToken, match="not valid"):
        codec.decode(token, "/records", QUERY)


def test_unavailable_secret_is_a_retryable_error():
    def missing_secret() -> str:
        raise RuntimeError("parameter not found")

    with pytest.raises(StoreUnavailable):
        PageTokenCodec(missing_secret, 3600).encode("/records", QUERY, {"s": "x", "n": 0})
