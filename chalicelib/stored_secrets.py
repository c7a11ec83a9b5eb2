"""The page-token secret from AWS Secrets Manager, cached in the container for a few minutes.

Secrets Manager rather than SSM Parameter Store: the stack generates the secret itself (nobody
types or sees it), and its client is cheap to build (its API model is a sixth of SSM's: ~4 ms of
CPU against ~18 ms, on the first paged answer of every container). Fetched with the service's
own botocore client rather than Powertools' parameters utility, whose import pulls in boto3 and
whose default client comes from a new boto3 session: ~35 ms more, which alone took the cold
start over its budget (see README, *Performance*).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.settings import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)


class CachedSecret:
    """One secret string, fetched at most once per ``max_age_seconds``: a rotation reaches every
    running container within that time, without a fetch per request."""

    def __init__(
        self,
        secret_id: str,
        max_age_seconds: float,
        client: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._max_age_seconds = max_age_seconds
        self._client = client
        self._clock = clock
        self._value: str | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()  # chalice local serves requests on threads

    def get(self) -> str:
        """The secret; after its cache period, refetched, or kept if the refetch fails (a blip of
        Secrets Manager must not turn every paged answer into a 503). Raises only with no value."""
        with self._lock:
            if self._value is None or self._clock() - self._fetched_at >= self._max_age_seconds:
                try:
                    response = self._client().get_secret_value(SecretId=self.secret_id)
                except Exception:
                    if self._value is None:
                        raise
                    logger.warning("Could not refresh the page-token secret; using the one fetched before")
                    return self._value
                self._value, self._fetched_at = str(response["SecretString"]), self._clock()
            return self._value
