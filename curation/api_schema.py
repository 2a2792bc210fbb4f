"""What every API schema shares: the error bodies, and input types with the database's bounds.

A value the schema lets through must fit its column: an int beyond int4/int8, a Decimal with
more digits than the column, a string longer than a CharField or holding a NUL byte (which
Postgres refuses in text) would otherwise reach the database and fail there as a 500. So
inputs state those bounds in their `Field`s, which also puts them in the OpenAPI schema.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, Field, WithJsonSchema

INT32_MAX = 2**31 - 1  # IntegerField, PositiveIntegerField
INT64_MAX = 2**63 - 1  # BigIntegerField, and the ids
SMALLINT_MAX = 2**15 - 1  # PositiveSmallIntegerField
NO_NUL = r"^[^\x00]*$"

PositiveId = Annotated[int, Field(ge=1, le=INT64_MAX)]  # an id inside a body


class ErrorOut(Schema):
    """Every error under /api/v1 (400, 401, 403, 404, 409, 413, 429, 503, ...)."""

    detail: str
    request_id: str | None = Field(default=None, description="500s only: quote it to the admin.")


class ValidationErrorOut(Schema):
    """422: the request did not fit the schema; one entry per problem."""

    detail: list[dict[str, Any]]


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    """The error statuses a view answers itself, for its `response=`."""
    return dict.fromkeys(codes, ErrorOut)


def text(
    default: Any = ..., *, max_length: int | None = None, min_length: int = 0, **kwargs: Any
) -> Any:
    """A string field with no NUL byte; `max_length` that of its CharField."""
    return Field(default, min_length=min_length, max_length=max_length, pattern=NO_NUL, **kwargs)


def _rounded_to(decimal_places: int, limit: int) -> Any:
    """Rounds a number to the column's places; one too large is left for `lt` to refuse."""
    quantum = Decimal(1).scaleb(-decimal_places)

    def rounded(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            return value
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return value
        if number.is_finite() and abs(number) < limit:
            return number.quantize(quantum)
        return value

    return BeforeValidator(rounded)


# ModelEndpoint.price_*_per_1k: DecimalField(max_digits=12, decimal_places=6).
Price = Annotated[
    Decimal,
    _rounded_to(6, 10**6),
    Field(ge=0, lt=10**6),
    WithJsonSchema({"type": "number", "minimum": 0, "exclusiveMaximum": 10**6}),
]
# Run.budget_cost: DecimalField(max_digits=12, decimal_places=4), and positive.
BudgetCost = Annotated[
    Decimal,
    _rounded_to(4, 10**8),
    Field(ge=Decimal("0.0001"), lt=10**8),
    WithJsonSchema({"type": "number", "minimum": 0.0001, "exclusiveMaximum": 10**8}),
]
