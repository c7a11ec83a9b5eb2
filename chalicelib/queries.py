"""Query-string parameters of the read endpoints, validated into typed, normalised queries."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.errors import InvalidParameters, ParameterError
from chalicelib.tables import SITE_ID, TIMESTAMP
from chalicelib.timestamps import InvalidInstant, TimeRange, format_instant, parse_query_bound

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_FIELDS = 32
DEFAULT_MAX_POINTS = 1000
MAX_POINTS = 5000
SITE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:#@-]{0,127}$"
FIELD_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"


def _instant(end_of_range: bool) -> BeforeValidator:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_query_bound(value, end_of_range=end_of_range)
        except InvalidInstant as error:
            raise PydanticCustomError("instant", str(error)) from None

    return BeforeValidator(parse)


def _split_fields(value: Any) -> Any:
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",")]
        if any(not name for name in names):
            raise PydanticCustomError(
                "fields",
                "fields must be comma-separated attribute names, e.g. fields=energy_generated_kwh,temperature_c",
            )
        return tuple(dict.fromkeys(names))
    return value


def _whole_number(value: Any) -> Any:
    """Query strings are text: accept plain digits only (not '5.0', '1_0' or ' 5')."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise PydanticCustomError("int_parsing", "not a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
SiteId = Annotated[
    str,
    Field(pattern=SITE_ID_PATTERN, description="1-128 of A-Z a-z 0-9 _ . : # @ -, starting with a letter or digit"),
]
FieldName = Annotated[str, Field(pattern=FIELD_NAME_PATTERN)]
StartInstant = Annotated[datetime, _instant(end_of_range=False)]
EndInstant = Annotated[datetime, _instant(end_of_range=True)]


def _time_zone(value: Any) -> Any:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise PydanticCustomError("tz", "tz must be an IANA time zone name such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "tz", "'{tz}' is not an IANA time zone name such as Europe/Berlin or UTC", {"tz": value}
        ) from None
    return value


TimeZoneName = Annotated[str, BeforeValidator(_time_zone)]
FieldList = Annotated[tuple[FieldName, ...], BeforeValidator(_split_fields), Field(min_length=1, max_length=MAX_FIELDS)]


class _PageQuery(BaseModel):
    """Parameters shared by every paginated, per-site read."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use

    site_id: SiteId
    limit: WholeNumber = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    order: Literal["asc", "desc"] = "asc"
    fields: FieldList | None = None
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _start_not_after_end(self) -> _PageQuery:
        start, end = self.time_range.start, self.time_range.end
        if start is not None and end is not None and start > end:
            raise PydanticCustomError(
                "time_range",
                "start_time ({start}) is after end_time ({end})",
                {"start": format_instant(start), "end": format_instant(end)},
            )
        return self

    @property
    def time_range(self) -> TimeRange:
        return TimeRange(getattr(self, "start_time", None), getattr(self, "end_time", None))

    @property
    def ascending(self) -> bool:
        return self.order == "asc"

    @property
    def projection(self) -> tuple[str, ...] | None:
        """Attributes to read: the requested fields plus the keys, which are always returned."""
        if self.fields is None:
            return None
        return tuple(dict.fromkeys((SITE_ID, TIMESTAMP, *self.fields)))

    def identity(self) -> dict[str, Any]:
        """Everything that defines the query (not the position in it): what a page token binds to."""
        return self.model_dump(mode="json", exclude={"next_token"})


class RecordsQuery(_PageQuery):
    start_time: StartInstant
    end_time: EndInstant
    resolution: Literal["raw", "5m", "15m", "1h", "1d", "auto"] = "raw"
    tz: TimeZoneName = "UTC"
    max_points: WholeNumber = Field(default=DEFAULT_MAX_POINTS, ge=1, le=MAX_POINTS)

    @model_validator(mode="after")
    def _aggregates_are_not_paginated(self) -> RecordsQuery:
        if self.resolution != "raw" and self.next_token is not None:
            raise PydanticCustomError(
                "aggregate_token", "next_token applies to resolution=raw only; aggregated answers are never paged"
            )
        return self


class AnomaliesQuery(_PageQuery):
    start_time: StartInstant | None = None
    end_time: EndInstant | None = None
    min_severity: Literal["low", "medium", "high", "critical"] | None = None
    metric: FieldName | None = None


# Our own messages already name the value and the accepted forms; pydantic's need the parameter name.
_COMPLETE_MESSAGES = frozenset({"instant", "fields", "tz"})


class SitesQuery(BaseModel):
    """GET /sites: the registry, a page at a time."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use

    limit: WholeNumber = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)


class SummaryQuery(BaseModel):
    """GET /sites/{site_id}/summary; ``as_of`` (default now) lets a dashboard show a past day."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use

    site_id: SiteId
    tz: TimeZoneName = "UTC"
    as_of: EndInstant | None = None


QueryModel = TypeVar("QueryModel", bound=BaseModel)


def parse_query(model: type[QueryModel], parameters: Mapping[str, str]) -> QueryModel:
    """Validate query-string parameters, turning every problem into one :class:`InvalidParameters`."""
    try:
        return model.model_validate(dict(parameters))
    except ValidationError as error:
        raise InvalidParameters([_describe(model, detail) for detail in error.errors()]) from None


# What each parameter accepts, said once: used whenever its value is malformed or out of range.
_ACCEPTS = {
    "site_id": "site_id must be 1-128 characters of A-Z a-z 0-9 _ . : # @ -, starting with a letter or digit",
    "limit": f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}",
    "max_points": f"max_points must be a whole number from 1 to {MAX_POINTS}",
    "resolution": "resolution must be one of raw, 5m, 15m, 1h, 1d, auto",
    "min_severity": "min_severity must be one of low, medium, high, critical",
    "order": "order must be 'asc' or 'desc'",
}


def _describe(model: type[BaseModel], detail: Any) -> ParameterError:
    location = detail["loc"]
    kind = detail["type"]
    if kind == "time_range":
        return ParameterError("start_time", detail["msg"])
    if kind == "aggregate_token":
        return ParameterError("next_token", detail["msg"])
    parameter = str(location[0]) if location else "query"
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields)
        return ParameterError(parameter, f"unknown parameter; allowed parameters are: {allowed}")
    if kind == "missing":
        return ParameterError(parameter, f"{parameter} is required")
    if parameter in _ACCEPTS:
        return ParameterError(parameter, _ACCEPTS[parameter])
    if parameter in ("fields", "metric") and kind == "string_pattern_mismatch":
        return ParameterError(parameter, f"'{detail['input']}' is not a valid attribute name")
    if kind in _COMPLETE_MESSAGES:
        return ParameterError(parameter, detail["msg"])
    return ParameterError(parameter, f"{parameter}: {detail['msg']}")
