"""A fast path for valid documents, compiled from the contract schemas.

jsonschema spends most of its time in per-keyword bookkeeping: about 1-4 ms per event. Events are
valid far more often than not, so validation first runs a predicate compiled from the same schemas
(the handful of keywords the contracts use, with jsonschema's semantics) and only falls back to
jsonschema, the authority, to explain a failure. A schema using any other keyword gets no fast
path at all, so the predicate can never accept what jsonschema would reject (tests compare both).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["Check", "FastCompiler", "NoFastPath"]


Check = Callable[[Any], bool]
_ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "title",
        "description",
        "format",
        "x-id-of",
        "$comment",
        "examples",
    }
)
_OBJECTS_REF: Final = ("#/$defs/", "../objects.json#/$defs/")


class NoFastPath(Exception):
    """The schema uses a keyword the fast path does not implement."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPE_CHECKS: Final[Mapping[str, Check]] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}


def _json_equal(one: Any, two: Any) -> bool:
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, str) or isinstance(two, str):
        return isinstance(one, str) and isinstance(two, str) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_json_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_json_equal(one[k], two[k]) for k in one)
    if _is_number(one) and _is_number(two):
        return bool(one == two)
    return one is None and two is None


class FastCompiler:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs
        self._compiled: dict[str, Check] = {}

    def ref(self, name: str) -> Check:
        if name not in self._defs:
            raise NoFastPath(name)
        compiled = self._compiled

        def check(value: Any) -> bool:
            found = compiled.get(name)
            if found is None:
                found = compiled[name] = self.compile(self._defs[name])
            return found(value)

        return check

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if not isinstance(schema, Mapping):
            raise NoFastPath(repr(schema))
        checks: list[Check] = []
        for key, argument in schema.items():
            if key in _ANNOTATIONS or key == "then":
                continue
            if key == "type":
                checks.append(self._type(argument))
            elif key == "properties":
                checks.append(self._properties(argument, schema.get("additionalProperties")))
            elif key == "additionalProperties":
                if "properties" not in schema:
                    checks.append(self._properties({}, argument))
            elif key == "required":
                checks.append(self._required(argument))
            elif key in ("enum", "const"):
                checks.append(self._enum(argument if key == "enum" else [argument]))
            elif key == "$ref":
                prefix = next((p for p in _OBJECTS_REF if argument.startswith(p)), None)
                if prefix is None:
                    raise NoFastPath(argument)
                checks.append(self.ref(argument[len(prefix) :]))
            elif key == "items":
                checks.append(self._items(self.compile(argument)))
            elif key == "anyOf":
                checks.append(self._any([self.compile(branch) for branch in argument]))
            elif key == "allOf":
                checks.extend(self.compile(branch) for branch in argument)
            elif key == "if":
                checks.append(
                    self._if(self.compile(argument), self.compile(schema.get("then", True)))
                )
            elif key == "pattern":
                checks.append(self._pattern(re.compile(argument)))
            elif key == "maxLength":
                checks.append(self._max_length(argument))
            elif key == "minimum":
                checks.append(self._minimum(argument))
            else:
                raise NoFastPath(key)
        return self._all(checks)

    @staticmethod
    def _all(checks: list[Check]) -> Check:
        # Hand-unrolled: this runs for every value of every event, and generators are slow.
        if not checks:
            return lambda value: True
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda value: first(value) and second(value)
        if len(checks) == 3:
            first, second, third = checks
            return lambda value: first(value) and second(value) and third(value)

        def check(value: Any) -> bool:
            for one in checks:  # noqa: SIM110 - a loop is faster than all() over a generator
                if not one(value):
                    return False
            return True

        return check

    @staticmethod
    def _any(branches: list[Check]) -> Check:
        if len(branches) == 1:
            return branches[0]
        if len(branches) == 2:
            first, second = branches
            return lambda value: first(value) or second(value)

        def check(value: Any) -> bool:
            for branch in branches:  # noqa: SIM110 - a loop is faster than any() over a generator
                if branch(value):
                    return True
            return False

        return check

    @staticmethod
    def _type(argument: Any) -> Check:
        names = argument if isinstance(argument, list) else [argument]
        if any(name not in _TYPE_CHECKS for name in names):
            raise NoFastPath(repr(argument))
        if len(names) == 1:
            return _TYPE_CHECKS[names[0]]
        plain = {"array": list, "boolean": bool, "null": type(None), "object": dict, "string": str}
        classes = tuple(plain[name] for name in names if name in plain)
        if "number" in names:
            return lambda value: isinstance(value, classes) or _is_number(value)
        if "integer" in names:
            return lambda value: isinstance(value, classes) or _is_integer(value)
        return lambda value: isinstance(value, classes)

    def _properties(self, properties: Mapping[str, Any], additional: Any) -> Check:
        compiled = {name: self.compile(sub) for name, sub in properties.items()}
        rest = None if additional is None else self.compile(additional)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                one = compiled.get(key)
                if one is not None:
                    if not one(item):
                        return False
                elif rest is not None and not rest(item):
                    return False
            return True

        return check

    @staticmethod
    def _required(names: list[str]) -> Check:
        return lambda value: not isinstance(value, dict) or all(name in value for name in names)

    @staticmethod
    def _enum(values: list[Any]) -> Check:
        if all(isinstance(v, str) for v in values):
            strings = frozenset(values)
            return lambda value: isinstance(value, str) and value in strings
        return lambda value: any(_json_equal(value, v) for v in values)

    @staticmethod
    def _items(each: Check) -> Check:
        return lambda value: not isinstance(value, list) or all(each(item) for item in value)

    @staticmethod
    def _if(condition: Check, then: Check) -> Check:
        return lambda value: not condition(value) or then(value)

    @staticmethod
    def _max_length(limit: int) -> Check:
        return lambda value: not isinstance(value, str) or len(value) <= limit

    @staticmethod
    def _minimum(limit: float) -> Check:
        return lambda value: not _is_number(value) or value >= limit

    @staticmethod
    def _pattern(pattern: re.Pattern[str]) -> Check:
        return lambda value: not isinstance(value, str) or pattern.search(value) is not None
