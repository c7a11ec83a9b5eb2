"""HTTP edge: JSON bodies with exact numbers, RFC 9457 problem responses, CORS, query strings.

This is the one place where domain errors become status codes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from aws_lambda_powertools import Logger
from chalice import Response  # type: ignore[attr-defined]
from chalice.app import Request

from chalicelib.caching import Built, ResponseCache, cached_answer, entity_tag, etag_matches
from chalicelib.errors import ApiError, InvalidParameters, ParameterError, StoreUnavailable
from chalicelib.json_values import base64_text, json_number
from chalicelib.observability import current_stats
from chalicelib.settings import SERVICE_NAME, Settings

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.ingest import IngestResult

logger = Logger(service=SERVICE_NAME, child=True)

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:energy-metrics:problem:"
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, If-None-Match, X-Request-Id"
EXPOSED_RESPONSE_HEADERS = "Retry-After, ETag, X-Request-Id"
PREFLIGHT_MAX_AGE_SECONDS = "600"


def _encode_extra(value: Any) -> Any:
    if isinstance(value, Decimal):
        return json_number(str(value))
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, bytes | bytearray):
        return base64_text(bytes(value))
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(body: Any) -> str:
    """Compact JSON text in which numbers keep their exact digits: a ``Decimal`` or a stored
    DynamoDB number is written as its own text, never through a float."""
    return orjson.dumps(body, default=_encode_extra).decode()


def json_response(body: Any, status: int = HTTPStatus.OK, headers: Mapping[str, str] | None = None) -> Response:
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        current_stats().items_returned = len(body["items"])
    return Response(body=to_json(body), status_code=int(status), headers={"Content-Type": JSON, **(headers or {})})


def data_response(
    context: Any, route: str, parameters: Mapping[str, Any], window_end: datetime | None, build: Callable[[], Any]
) -> Response:
    """A keyed GET answer with its freshness and ETag; from the in-process cache when its
    window is closed. ``build`` makes the body (a dict; its ``items`` are counted)."""
    freshness = context.freshness.for_window(window_end)

    def body_and_count() -> Built:
        body = build()
        items = body.get("items") if isinstance(body, dict) else None
        holds_token = isinstance(body, dict) and bool(body.get("next_token"))
        return Built(to_json(body), len(items) if isinstance(items, list) else None, lasting=not holds_token)

    key = ResponseCache.key(route, parameters)
    # A continuation is never answered from memory: its token must be checked (expiry, secret
    # rotation) on every use, which only building the answer does.
    cache = None if parameters.get("next_token") else context.response_cache
    answer, age_seconds = cached_answer(cache, key, freshness, body_and_count)
    if not answer.lasting:
        freshness = context.freshness.for_window(None)
    current_stats().items_returned = answer.items_returned
    headers = {"Content-Type": JSON, "Cache-Control": freshness.cache_control(age_seconds), "ETag": answer.etag}
    return Response(body=answer.body, status_code=int(HTTPStatus.OK), headers=headers)


def with_etag(request: Request, response: Response) -> Response:
    """Every successful GET carries an ETag; ``If-None-Match`` with it gets ``304`` and no body."""
    if request.method != "GET" or response.status_code != HTTPStatus.OK:
        return response
    etag = str(
        response.headers.get("ETag") or entity_tag(response.body if isinstance(response.body, str | bytes) else "")
    )
    response.headers["ETag"] = etag
    if not etag_matches(request.headers.get("if-none-match"), etag):
        return response
    kept = {name: value for name, value in response.headers.items() if name.lower() != "content-type"}
    current_stats().items_returned = 0  # the client keeps its copy; none were sent
    return Response(body="", status_code=int(HTTPStatus.NOT_MODIFIED), headers=kept)


def problem_body(status: HTTPStatus, title: str, detail: str, slug: str | None) -> dict[str, Any]:
    """The RFC 9457 fields every error carries, from a route or from API Gateway itself."""
    return {
        "type": PROBLEM_TYPE_PREFIX + slug if slug else "about:blank",
        "title": title,
        "status": int(status),
        "detail": detail,
    }


def problem_response(
    status: HTTPStatus,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[ParameterError] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    body = problem_body(status, title, detail, slug)
    if errors:
        body["errors"] = [{"parameter": error.parameter, "message": error.message} for error in errors]
    body.update(extensions or {})
    return Response(
        body=to_json(body),
        status_code=int(status),
        headers={"Content-Type": PROBLEM_JSON, **(headers or {})},
    )


def error_to_response(error: ApiError) -> Response:
    headers = {}
    if isinstance(error, StoreUnavailable):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return problem_response(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        errors=error.errors if isinstance(error, InvalidParameters) else None,
        headers=headers,
    )


def internal_error_response() -> Response:
    return problem_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "Internal server error",
        "The request could not be completed. It has been logged; retrying may help.",
        slug="internal-error",
    )


def handle_errors(view: Callable[..., Response]) -> Callable[..., Response]:
    """Map domain errors to problem responses; anything unexpected becomes a logged, bare 500.

    Chalice catches view exceptions before middleware can, so views are wrapped instead.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
                logger.warning("Request failed", extra={"status": int(error.status), "problem": error.slug})
            return error_to_response(error)
        except Exception:
            logger.exception("Unhandled error")
            return internal_error_response()

    return wrapped


def ingest_response(result: IngestResult) -> Response:
    """200 when every valid reading was stored; 503 (retry those listed) when some were not;
    422 when no reading in the body was valid."""
    body = result.to_json()
    if result.not_stored:
        return problem_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "Some readings were not stored",
            f"{len(result.not_stored)} readings were not stored; re-send exactly those (writes are idempotent).",
            slug="readings-not-stored",
            headers={"Retry-After": "2"},
            extensions=body,
        )
    if result.stored == 0 and result.rejected:
        return problem_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "No valid readings",
            "Every reading in the body failed validation; see rejected[].errors.",
            slug="invalid-readings",
            extensions=body,
        )
    return json_response(body)


def single_valued_parameters(request: Request) -> dict[str, str]:
    """Query parameters as a plain dict; a repeated parameter is ambiguous, so it is a 400."""
    if request.query_params is None:
        return {}
    parameters: dict[str, str] = {}
    repeated: list[ParameterError] = []
    for name in request.query_params:
        values = request.query_params.getlist(name)
        if len(values) > 1:
            repeated.append(ParameterError(name, f"{name} was given {len(values)} times; give it once"))
        parameters[name] = values[-1]
    if repeated:
        raise InvalidParameters(repeated)
    return parameters


def as_problem(response: Response) -> Response:
    """Rewrite Chalice's own error bodies (405, 415, ...) into problem+json."""
    if response.status_code < HTTPStatus.BAD_REQUEST:
        return response
    if not isinstance(response.body, dict) or "Code" not in response.body:
        return response
    status = HTTPStatus(response.status_code)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return internal_error_response()
    extra_headers = {
        name: value
        for name, value in response.headers.items()
        if isinstance(value, str) and name.lower() != "content-type"
    }
    return problem_response(
        status, status.phrase, str(response.body.get("Message", status.description)), headers=extra_headers
    )


SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def with_security_headers(response: Response, *, keyed: bool = False) -> Response:
    """On every response. Errors are never worth caching; an answer given to one API key is that
    key's data, so no shared cache (CDN, proxy) may keep it, and a browser whose page switches
    keys must not answer the new key from what it kept for the old one (``Vary``)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.status_code >= HTTPStatus.BAD_REQUEST:
        response.headers.setdefault("Cache-Control", "no-store")
    elif keyed:
        response.headers.setdefault("Cache-Control", "private, no-store")
        _append_vary(response, "Authorization")
    return response


class CorsPolicy:
    """Per-stage origin allow-list; answers with the caller's origin so several origins work."""

    def __init__(self, settings: Settings) -> None:
        self._any_origin = settings.any_origin_allowed
        self._origins = frozenset(settings.allowed_origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self._any_origin or origin in self._origins)

    def decorate(self, request: Request | None, response: Response) -> Response:
        origin = None if request is None else request.headers.get("origin")
        if not self._any_origin:
            _append_vary(response, "Origin")
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = "*" if self._any_origin else str(origin)
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_RESPONSE_HEADERS
        return response

    def preflight(self, request: Request, allowed_methods: str) -> Response:
        origin = request.headers.get("origin")
        if origin is None:
            return Response(body="", status_code=HTTPStatus.NO_CONTENT, headers={"Allow": allowed_methods})
        if not self.allows(origin):
            return problem_response(
                HTTPStatus.FORBIDDEN,
                "Origin not allowed",
                f"Origin '{origin}' is not in this stage's CORS allow-list.",
                slug="cors-origin-not-allowed",
            )
        return Response(
            body="",
            status_code=HTTPStatus.NO_CONTENT,
            headers={
                "Access-Control-Allow-Methods": allowed_methods,
                "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_SECONDS,
            },
        )


def _append_vary(response: Response, header: str) -> None:
    existing = response.headers.get("Vary")
    if not existing or not isinstance(existing, str):
        response.headers["Vary"] = header
    elif header.lower() not in existing.lower():
        response.headers["Vary"] = f"{existing}, {header}"
