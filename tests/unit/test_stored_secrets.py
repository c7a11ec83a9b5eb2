"""The page-token secret is fetched once per cache period, so rotation reaches warm containers."""

from __future__ import annotations

from typing import Any

from chalicelib.stored_secrets import CachedSecret


class SecretsManager:
    def __init__(self) -> None:
        self.value = "first"
        self.calls: list[dict[str, Any]] = []

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
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
