"""Who is calling and what they may touch: the API-key authorizer and the checks routes make.

Authentication happens once per key per cache period in API Gateway's authorizer; what the key
may do travels to the routes in the authorizer context. The authorizer's policy already limits a
key to the methods its scopes allow; which *sites* it may touch can only be checked by the route,
because the site is in the query, the path or the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chalice.app import AuthRequest, AuthResponse, AuthRoute

from chalicelib.api_keys import ALL_SITES, ApiKey, ApiKeyStore
from chalicelib.errors import ApiError

# Long enough to spare DynamoDB a GetItem per request, short enough that a revoked key dies soon.
AUTHORIZER_CACHE_SECONDS = 60
_BEARER = re.compile(r"Bearer[ ]+(\S+)[ ]*", re.IGNORECASE)
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


class Unauthorized(Exception):
    """API Gateway's contract: an authorizer that fails with exactly "Unauthorized" yields a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class Unauthenticated(ApiError):
    status = HTTPStatus.UNAUTHORIZED
    slug = "unauthenticated"
    title = "Unauthenticated"

    def __init__(self) -> None:
        super().__init__(UNAUTHENTICATED_DETAIL)


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN
    slug = "forbidden"
    title = "Forbidden"


UNAUTHENTICATED_DETAIL = "Send a valid API key as 'Authorization: Bearer <key>'."


@dataclass(frozen=True)
class RoutePermission:
    """A route an API key may call when it holds ``scope`` (``admin`` holds every scope)."""

    path: str
    method: str
    scope: str


@dataclass(frozen=True)
class Caller:
    key_id: str
    scopes: frozenset[str]
    sites: frozenset[str]

    @classmethod
    def from_key(cls, key: ApiKey) -> Caller:
        return cls(key.key_id, key.scopes, key.sites)

    @classmethod
    def from_authorizer_context(cls, context: Mapping[str, Any] | None) -> Caller:
        """The caller the authorizer vouched for; a request without one never gets data."""
        if not context or "scopes" not in context or "sites" not in context:
            raise Unauthenticated()
        return cls(
            key_id=str(context.get("principalId", "")),
            scopes=frozenset(str(context["scopes"]).split()),
            sites=frozenset(json.loads(str(context["sites"]))),
        )

    def authorizer_context(self) -> dict[str, str]:
        """API Gateway context values must be strings; site ids may hold any allowed character."""
        return {"scopes": " ".join(sorted(self.scopes)), "sites": json.dumps(sorted(self.sites))}

    def holds(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def sees_every_site(self) -> bool:
        return ALL_SITES in self.sites

    def may_see(self, site_id: str) -> bool:
        return self.sees_every_site or site_id in self.sites

    def require_scope(self, scope: str) -> None:
        if not self.holds(scope):
            raise Forbidden(f"This API key lacks the '{scope}' scope this request needs.")

    def require_sites(self, site_ids: Iterable[str]) -> None:
        """403 naming the sites the key may not see; says nothing about whether they exist."""
        forbidden = sorted({site_id for site_id in site_ids if not self.may_see(site_id)})
        if forbidden:
            raise Forbidden(f"This API key may not access site(s): {', '.join(forbidden)}.")


def bearer_key(header: str | None) -> str | None:
    match = _BEARER.fullmatch(header or "")
    return match.group(1) if match else None


def authorize(request: AuthRequest, keys: ApiKeyStore, permissions: Iterable[RoutePermission]) -> dict[str, Any]:
    """The built-in authorizer's answer: an allow-policy for the routes the key's scopes reach,
    the key's scopes and sites as context, and its usage-plan key so API Gateway meters it."""
    plaintext = bearer_key(request.token)
    key = keys.verify(plaintext) if plaintext else None
    if key is None:
        raise Unauthorized()
    caller = Caller.from_key(key)
    # API Gateway serves "/records/" as "/records", but names the path as sent in the method ARN.
    routes: list[str | AuthRoute] = [
        AuthRoute(_PATH_PARAMETER.sub("*", permission.path) + slash, [permission.method])
        for permission in permissions
        if caller.holds(permission.scope)
        for slash in ("", "/")
    ]
    response: dict[str, Any] = AuthResponse(routes, key.key_id, caller.authorizer_context()).to_dict(request)
    if key.usage_key:
        response["usageIdentifierKey"] = key.usage_key
    return response
