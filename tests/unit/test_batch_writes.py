"""Batch writes lose nothing: unprocessed items are retried, and what never lands is returned."""

from __future__ import annotations

from typing import Any

from chalicelib.batch_writes import put_items


class FlakyBatchClient:
    """Leaves the last ``unprocessed_per_call`` items of each call unprocessed, ``failures`` times."""

    def __init__(self, failures: int, unprocessed_per_call: int = 2) -> None:
        self.failures = failures
        self.unprocessed_per_call = unprocessed_per_call
        self.calls: list[int] = []
        self.stored: list[dict[str, Any]] = []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        if self.failures > 0:
            self.failures -= 1
            done, left = requests[: -self.unprocessed_per_call], requests[-self.unprocessed_per_call :]
        else:
            done, left = requests, []
        self.stored += [request["PutRequest"]["Item"] for request in done]
        return {"UnprocessedItems": {table: left} if left else {}}


def items(count: int) -> list[dict[str, Any]]:
    return [{"site_id": {"S": "s"}, "timestamp": {"S": f"{n:04d}"}} for n in range(count)]


def test_items_are_sent_in_batches_of_25():
    client = FlakyBatchClient(failures=0)

    result = put_items(client, "T", items(60), sleep=lambda _: None)  # type: ignore[arg-type]

    assert client.calls == [25, 25, 10]
    assert result.written == 60
    assert result.unwritten == []


def test_unprocessed_items_are_retried_until_written():
    client = FlakyBatchClient(failures=3)

    result = put_items(client, "T", items(10), sleep=lambda _: None)  # type: ignore[arg-type]

    assert sorted(item["timestamp"]["S"] for item in client.stored) == [f"{n:04d}" for n in range(10)]
    assert result.written == 10
    assert client.calls == [10, 2, 2, 2]


def test_items_never_processed_are_returned_not_dropped():
    client = FlakyBatchClient(failures=100)

    result = put_items(client, "T", items(5), max_attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]

    assert result.written == 3
    assert [item["timestamp"]["S"] for item in result.unwritten] == ["0003", "0004"]


def test_retries_back_off():
    delays: list[float] = []

    put_items(FlakyBatchClient(failures=2), "T", items(5), base_delay=0.1, sleep=delays.append)  # type: ignore[arg-type]

    assert len(delays) == 2
    assert all(0 <= delay <= 2.0 for delay in delays)
