"""Domain errors raised by chalicelib and translated to HTTP in exactly one place (``http.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class ParameterError:
    """One bad request parameter and what the caller should do about it."""

    parameter: str
    message: str


class ApiError(Exception):
    """Base of every error a client may see; carries its RFC 9457 problem fields."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidParameters(ApiError):
    """Query parameters failed validation; ``errors`` names each one."""

    slug = "invalid-parameters"
    title = "Invalid request parameters"

    def __init__(self, errors: list[ParameterError]) -> None:
        names = ", ".join(sorted({error.parameter for error in errors}))
        super().__init__(f"Fix these parameters and retry: {names}.")
        self.errors = errors


class InvalidPageToken(ApiError):
    """``next_token`` was altered, expired, or belongs to another query."""

    slug = "invalid-page-token"
    title = "Invalid page token"


class StoreUnavailable(ApiError):
    """DynamoDB is throttling, unreachable or not ready: the client should retry later."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "service-unavailable"
    title = "Service unavailable"

    def __init__(self, retry_after_seconds: int = 1) -> None:
        super().__init__("The data store is temporarily unavailable. Retry after the delay in Retry-After.")
        self.retry_after_seconds = retry_after_seconds


class IndexUnavailable(Exception):
    """The anomaly index is missing or still backfilling; callers fall back to the base table."""
