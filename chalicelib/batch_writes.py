"""BatchWriteItem that loses nothing: ``UnprocessedItems`` are retried with capped, jittered backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_SIZE = 25  # DynamoDB's limit per BatchWriteItem call


@dataclass
class WriteResult:
    written: int = 0
    unwritten: list[dict[str, Any]] = field(default_factory=list)


def put_items(
    client: DynamoDBClient,
    table_name: str,
    items: Iterable[dict[str, Any]],
    *,
    max_attempts: int = 8,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    on_batch_written: Callable[[int], object] | None = None,
    should_retry: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = time.sleep,
) -> WriteResult:
    """Write low-level items in batches of 25; return what was written and what never was.

    Items still unprocessed after ``max_attempts`` (or once ``should_retry`` says the time
    budget is spent) are returned, never silently dropped, so a caller can report them
    (writes are idempotent puts, safe to send again).
    """
    result = WriteResult()
    for batch in _chunks(items, BATCH_SIZE):
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in batch]
        for attempt in range(max_attempts):
            if attempt and not should_retry():
                break
            if attempt:
                sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))  # noqa: S311 - jitter, not crypto
            response = client.batch_write_item(RequestItems={table_name: pending})  # type: ignore[dict-item]
            unprocessed = response.get("UnprocessedItems", {}).get(table_name, [])
            done = len(pending) - len(unprocessed)
            result.written += done
            if on_batch_written is not None and done:
                on_batch_written(done)
            pending = list(unprocessed)  # type: ignore[arg-type]
            if not pending:
                break
        result.unwritten.extend(request["PutRequest"]["Item"] for request in pending)
    return result


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
