"""The shared pydantic base model and the one way of reporting a problem from a validator."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

PROBLEM = "se_problem"


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors and objects are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )


def fmt(value: Any) -> str:
    """A short, YAML-like rendering of a found value for error messages."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Problems:
    """Collects problems found by a validator and raises them together.

    Each problem is (sub-path relative to the model being validated, what was expected, what was
    found); :func:`simengine.scenario.loader.format_errors` joins the sub-path to the location.
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, sub: str, expected: str, found: Any, *, raw: bool = False) -> None:
        self.items.append((sub, expected, found if raw else fmt(found)))

    def raise_if_any(self) -> None:
        if self.items:
            raise PydanticCustomError(
                PROBLEM, "{expected}", {"problems": self.items, "expected": self.items[0][1]}
            )


def join_path(base: str, sub: str) -> str:
    """Join a dotted base path and a sub-path (which may start with an index ``[2]``)."""
    if not sub:
        return base
    if not base:
        return sub.lstrip(".")
    return base + sub if sub.startswith("[") else f"{base}.{sub}"
