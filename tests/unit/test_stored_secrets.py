"""The page-token secret is fetched once per cache period, so rotation reaches warm containers."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.stored_secrets import CachedSecret


class SecretsManager:
    def __init__(self) -> None:
        self.value = "first"
        self.down = False
        self.calls: list[dict[str, Any]] = []

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if self.down:
            raise ConnectionError("Secrets Manager unreachable")
        return {"SecretString": self.value}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_secret_is_fetched_once_within_its_cache_period():
    service, clock = SecretsManager(), Clock()
    secret = CachedSecret("energy/secret", 300, lambda: service, clock)

    values = [secret.get(), secret.get()]

    assert values == ["first", "first"]
    assert service.calls == [{"SecretId": "energy/secret"}]


def test_a_rotated_secret_is_used_once_the_cache_period_is_over():
    service, clock = SecretsManager(), Clock()
    secret = CachedSecret("energy/secret", 300, lambda: service, clock)
    secret.get()
    service.value = "rotated"
    clock.now = 300

    assert secret.get() == "rotated"


def test_a_failed_refresh_keeps_the_secret_fetched_before():
    service, clock = SecretsManager(), Clock()
    secret = CachedSecret("energy/secret", 300, lambda: service, clock)
    secret.get()
    service.down = True
    clock.now = 300

    assert secret.get() == "first"


def test_with_no_secret_yet_a_failed_fetch_raises():
    service = SecretsManager()
    service.down = True
    secret = CachedSecret("energy/secret", 300, lambda: service, Clock())

    with pytest.raises(ConnectionError):
        secret.get()
