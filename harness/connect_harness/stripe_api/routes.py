"""The fake API's route table for one API version, loaded from the generated ``api/routes.json``.

:mod:`connect_harness.spec.routes` writes the data from Stripe's OpenAPI description; this module
loads it from a version folder and answers "which operation is ``GET /v1/customers/cus_1``?" with
a walk down a trie of path segments (literal segments before parameters, as Stripe matches
``/v1/customers/search`` before ``/v1/customers/{customer}``): the cost depends on the path's
length, never on the number of routes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connect_harness.errors import ContractError

__all__ = ["Route", "RouteTable", "api_data_dirs", "load_routes", "routes_for_version"]

_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class Route:
    """One operation of the description: ``POST /v1/payment_intents/{intent}/capture``."""

    method: str
    template: str
    kind: str
    #: Object schemas the operation answers with (for lists: the item schemas, in ``items``).
    types: tuple[str, ...]
    items: tuple[str, ...]
    params: int
    #: The names of the path parameters, in order.
    names: tuple[str, ...]


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    routes: dict[str, Route] = field(default_factory=dict)


class RouteTable:
    """The routes, parameter schemas, expandable fields and examples of one API version."""

    def __init__(self, data: Mapping[str, Any], examples_path: Path | None = None) -> None:
        self.api_version: str = str(data.get("api_version", ""))
        self.nodes: list[dict[str, Any]] = list(data["nodes"])
        self.shapes: dict[str, dict[str, Any]] = dict(data.get("shapes", {}))
        self.names: dict[str, str] = dict(data.get("names", {}))
        self.routes: list[Route] = []
        self._root = _Node()
        self._examples_path = examples_path
        self._examples: dict[str, Any] | None = None
        self._schema_of: dict[str, str] = {value: name for name, value in self.names.items()}
        for method, template, kind, types, items, params in data["routes"]:
            segments = template.strip("/").split("/")
            names = tuple(part[1:-1] for part in segments if part.startswith("{"))
            route = Route(method, template, kind, tuple(types), tuple(items), params, names)
            self.routes.append(route)
            node = self._root
            for part in segments:
                if part.startswith("{"):
                    node.param = node.param or _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(part, _Node())
            node.routes[method] = route

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, whether the path exists for another method)."""
        segments = path.split("/")[1:] if path.startswith("/") else [""]
        node = self._walk(self._root, segments, 0)
        if node is None:
            return None, {}, False
        route = node.routes.get(method)
        if route is None:
            return None, {}, bool(node.routes)
        values = [
            part
            for part, template_part in zip(
                segments, route.template.strip("/").split("/"), strict=True
            )
            if template_part.startswith("{")
        ]
        return route, dict(zip(route.names, values, strict=True)), True

    def _walk(self, node: _Node, segments: list[str], index: int) -> _Node | None:
        if index == len(segments):
            return node if node.routes else None
        part = segments[index]
        child = node.literal.get(part)
        if child is not None:
            found = self._walk(child, segments, index + 1)
            if found is not None:
                return found
        if node.param is not None and part:
            return self._walk(node.param, segments, index + 1)
        return None

    def object_name(self, schema: str) -> str:
        """The ``object`` value of a schema's objects (``scheduled_query_run`` for its schema)."""
        return self.names.get(schema, schema)

    def schema_name(self, object_type: str) -> str:
        return self._schema_of.get(object_type, object_type)

    def example(self, schema: str) -> dict[str, Any] | None:
        """The plain example the description gives for ``schema`` (a fresh copy), if any."""
        if self._examples is None:
            self._examples = {}
            if self._examples_path is not None and self._examples_path.is_file():
                self._examples = json.loads(self._examples_path.read_text(encoding="utf-8"))
        found = self._examples.get(schema)
        return json.loads(json.dumps(found)) if isinstance(found, dict) else None


def load_routes(version_dir: str | Path) -> RouteTable:
    """Load the route table of the API version whose contracts folder is ``version_dir``."""
    folder = Path(version_dir) / "api"
    path = folder / "routes.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ContractError(
            f"the fake Stripe API's route data '{path}' cannot be read ({type(err).__name__}); "
            "reinstall connect-harness, or in a checkout rebuild the contracts with "
            "`connect-harness contracts build --spec-dir ../shared/stripe-spec --out contracts`"
        ) from err
    return RouteTable(data, folder / "objects.json")


@functools.cache
def api_data_dirs() -> dict[str, Path]:
    """API version -> the folder holding its ``api/routes.json``, for every version shipped."""
    from connect_harness.spec.contracts import contracts_dir

    found: dict[str, Path] = {}
    for candidate in sorted(contracts_dir().iterdir()):
        routes = candidate / "api" / "routes.json"
        if candidate.is_dir() and routes.is_file():
            found[candidate.name] = candidate
    return found


@functools.cache
def _load_cached(version_dir: str) -> RouteTable:
    return load_routes(version_dir)


def routes_for_version(version: str | None) -> RouteTable:
    """The route table that serves ``version``: that version's, else the newest one not newer.

    ``2026-10-28.endive`` and ``2026-10-28`` pick the same table; a version older than every table
    shipped gets the oldest; None gets the newest (the contracts' default version).
    """
    dirs = api_data_dirs()
    if not dirs:
        raise ContractError(
            "no route data for the fake Stripe API is shipped (no contracts folder holds "
            "api/routes.json); reinstall connect-harness"
        )
    by_date = sorted((_date(name), name) for name in dirs)
    if not version:
        return _load_cached(str(dirs[by_date[-1][1]]))
    chosen = by_date[0][1]
    wanted = _date(version)
    for date, name in by_date:
        if date <= wanted:
            chosen = name
    return _load_cached(str(dirs[chosen]))


def _date(version: str) -> str:
    match = _VERSION.match(version)
    return match.group(1) if match else version
