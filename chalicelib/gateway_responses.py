"""The errors API Gateway answers by itself (bad key, throttling, authorizer down), as problem+json.

One definition serves twice: the deploy template turns it into API Gateway *gateway responses*,
and ``chalice local`` / ``chalice.test`` (which answer those cases with their own bodies) are
made to answer identically, so a dashboard sees the same 401, 403 and 429 locally and deployed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from chalicelib.access import UNAUTHENTICATED_DETAIL, Unauthorized
from chalicelib.errors import StoreUnavailable
from chalicelib.http import EXPOSED_RESPONSE_HEADERS, PROBLEM_JSON, SECURITY_HEADERS, problem_body, to_json

# Gateway errors carry no data, and a browser can only tell a 401 from a network failure if the
# body is readable cross-origin, so they allow any origin (keys travel in a header, not a cookie).
GATEWAY_ERROR_HEADERS = {
    "Content-Type": PROBLEM_JSON,
    "Cache-Control": "no-store",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": EXPOSED_RESPONSE_HEADERS,
    **SECURITY_HEADERS,
}


@dataclass(frozen=True)
class GatewayResponse:
    response_type: str
    status: HTTPStatus
    title: str
    detail: str
    slug: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> str:
        return to_json(problem_body(self.status, self.title, self.detail, self.slug))

    def all_headers(self) -> dict[str, str]:
        return {**GATEWAY_ERROR_HEADERS, **self.headers}


def _responses(retry_after_seconds: int) -> tuple[GatewayResponse, ...]:
    retry = {"Retry-After": str(retry_after_seconds)}
    return (
        # Missing, malformed, unknown and revoked keys look exactly alike.
        GatewayResponse(
            "UNAUTHORIZED",
            HTTPStatus.UNAUTHORIZED,
            "Unauthenticated",
            UNAUTHENTICATED_DETAIL,
            "unauthenticated",
            {"WWW-Authenticate": 'Bearer realm="energy-metrics-api"'},
        ),
        GatewayResponse(
            "ACCESS_DENIED",
            HTTPStatus.FORBIDDEN,
            "Forbidden",
            "This API key's scopes do not allow this method on this route.",
            "forbidden",
        ),
        GatewayResponse(
            "INVALID_API_KEY",
            HTTPStatus.FORBIDDEN,
            "Forbidden",
            "This API key is not enabled for this API; ask an operator to attach it to the usage plan.",
            "forbidden",
        ),
        GatewayResponse(
            "THROTTLED",
            HTTPStatus.TOO_MANY_REQUESTS,
            "Too many requests",
            "The request rate limit was exceeded. Slow down and retry after the delay in Retry-After.",
            "rate-limited",
            {"Retry-After": "1"},
        ),
        GatewayResponse(
            "QUOTA_EXCEEDED",
            HTTPStatus.TOO_MANY_REQUESTS,
            "Quota exceeded",
            "This API key's request quota for the period is used up.",
            "quota-exceeded",
        ),
        GatewayResponse(
            "AUTHORIZER_FAILURE",
            HTTPStatus.SERVICE_UNAVAILABLE,
            "Service unavailable",
            "The API key could not be checked just now. Retry after the delay in Retry-After.",
            "service-unavailable",
            retry,
        ),
        GatewayResponse(
            "REQUEST_TOO_LARGE",
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "Request too large",
            "The request body is larger than API Gateway accepts.",
            "payload-too-large",
        ),
        # API Gateway's names for "no such route": without, and with, an Authorization header.
        *(
            GatewayResponse(
                response_type,
                HTTPStatus.NOT_FOUND,
                "Not found",
                NOT_FOUND_DETAIL,
                "not-found",
            )
            for response_type in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE")
        ),
        GatewayResponse(
            "DEFAULT_5XX",
            HTTPStatus.SERVICE_UNAVAILABLE,
            "Service unavailable",
            "The API is temporarily unavailable. Retry after the delay in Retry-After.",
            "service-unavailable",
            retry,
        ),
    )


def gateway_responses(retry_after_seconds: int) -> dict[str, GatewayResponse]:
    return {response.response_type: response for response in _responses(retry_after_seconds)}


def openapi_gateway_responses(retry_after_seconds: int) -> dict[str, Any]:
    """The ``x-amazon-apigateway-gateway-responses`` block of the deployed API."""
    blocks = {
        response.response_type: {
            "statusCode": str(int(response.status)),
            "responseParameters": _header_parameters(response.all_headers()),
            "responseTemplates": {"application/json": response.body()},
        }
        for response in gateway_responses(retry_after_seconds).values()
    }
    # Any other 4xx API Gateway raises keeps its status; the body still follows RFC 9457.
    blocks["DEFAULT_4XX"] = {
        "responseParameters": _header_parameters(GATEWAY_ERROR_HEADERS),
        "responseTemplates": {"application/json": DEFAULT_4XX_TEMPLATE},
    }
    return blocks


def _header_parameters(headers: Mapping[str, str]) -> dict[str, str]:
    return {f"gatewayresponse.header.{name}": f"'{value}'" for name, value in headers.items()}


NOT_FOUND_DETAIL = "There is no such route; GET / lists the routes."
DEFAULT_4XX_TEMPLATE = '{"type":"about:blank","title":"Request rejected","detail":$context.error.messageString}'


FULL_ACCESS_CONTEXT = {"principalId": "local-auth-disabled", "scopes": "admin read write", "sites": '["*"]'}


def emulate_in_chalice_local(auth_enabled: Callable[[], bool], retry_after_seconds: Callable[[], int]) -> None:
    """Make ``chalice local`` and ``chalice.test`` answer authorizer outcomes as the deployed API does.

    Chalice's local gateway raises its own bodies for a missing header or a denied policy and
    lets an authorizer's "Unauthorized" escape as a crash; this wraps its authorizer step so each
    becomes the gateway response above. With auth turned off (``local`` stage only), every
    request gets full access instead, so local experiments need no key.
    """
    from chalice import local  # noqa: PLC0415 - a development dependency, never loaded in Lambda

    class GatewayAuthorizer(local.LocalGatewayAuthorizer):
        def authorize(self, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
            route = self._route_for_event(lambda_event)
            if route is None or route.authorizer is None:
                return lambda_event, lambda_context
            if not auth_enabled():
                lambda_event["requestContext"]["authorizer"] = dict(FULL_ACCESS_CONTEXT)
                return lambda_event, lambda_context
            responses = gateway_responses(retry_after_seconds())
            try:
                return super().authorize(raw_path, lambda_event, lambda_context)
            except (local.NotAuthorizedError, Unauthorized):
                raise _as_local_error(local.NotAuthorizedError, responses["UNAUTHORIZED"]) from None
            except local.ForbiddenError:
                raise _as_local_error(local.ForbiddenError, responses["ACCESS_DENIED"]) from None
            except StoreUnavailable:
                raise _as_local_error(ServiceUnavailableError, responses["AUTHORIZER_FAILURE"]) from None

    class ServiceUnavailableError(local.LocalGatewayException):
        CODE = int(HTTPStatus.SERVICE_UNAVAILABLE)

    class NotFoundError(local.LocalGatewayException):
        CODE = int(HTTPStatus.NOT_FOUND)

    unpatched_event = local.LocalGateway._generate_lambda_event

    def lambda_event_or_404(gateway: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        """Chalice's "no such route" answer is a 403 that echoes the Authorization header back; its
        events lack the request id API Gateway gives every request."""
        try:
            event = unpatched_event(gateway, method, path, headers, body)
        except ValueError:
            not_found = gateway_responses(retry_after_seconds())["MISSING_AUTHENTICATION_TOKEN"]
            raise _as_local_error(NotFoundError, not_found) from None
        event["requestContext"].setdefault("requestId", str(uuid.uuid4()))
        return event

    local.LocalGatewayAuthorizer = GatewayAuthorizer  # type: ignore[misc]
    local.LocalGateway._generate_lambda_event = lambda_event_or_404  # type: ignore[method-assign,assignment]


def _as_local_error(error_type: Any, response: GatewayResponse) -> Exception:
    error: Exception = error_type(response.all_headers(), response.body().encode())
    return error
