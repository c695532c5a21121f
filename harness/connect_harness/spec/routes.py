"""Build the fake Stripe API's route data from one OpenAPI description of Stripe's v1 API.

:func:`build_api_routes` is pure and deterministic: one description in, ``{relative path: text}``
out, every path under ``api/`` of that API version's contracts folder. The fake API
(:mod:`connect_harness.stripe_api.routes`) loads the result at run time, so nothing about which
routes exist, which parameters they take, which fields expand or what an object looks like is
written by hand. The data is compact: descriptions are dropped, and the parameter schemas are
interned (one table of distinct nodes, referenced by index), since Stripe repeats the same
sub-hashes across hundreds of operations.

``api/routes.json`` holds::

    {"api_version": "...",
     "routes": [[method, path template, kind, response types, list item types, params node], ...],
     "nodes": [param node, ...],
     "shapes": {schema: {"x": {field: [types]}, "a": {field: [types]}, "n": {field: include},
                         "s": {field: schema}, "l": {field: [types]}}},
     "names": {schema: object value, when they differ}}

A param node is ``{"t": [json types], "e": [allowed strings], "u": 1 (the empty string unsets it),
"p": {name: node index}, "a": node index (free keys), "i": node index (array items), "r": [required
names] (on an operation's node)}``; missing keys mean "no constraint". ``kind`` is one of ``list``, ``search``, ``retrieve``, ``singleton``,
``create``, ``update``, ``action``, ``delete``. A shape's ``x`` fields hold an id or the object it
names, ``a`` fields an array of them (``discounts``); ``n`` names the other ``x-expandableFields``,
which Stripe accepts in ``expand[]`` without an id to replace: a sub-object with expandable fields
inside (``parent``), or a field left out unless expanded, with what expanding it includes: ``{"list":
[types]}`` (``line_items``), ``{"map": [fields]}`` (``currency_options``: the value schema's fields),
``{"object": its plain example}`` (``applies_to``), or ``{}``. ``api/objects.json`` holds one plain example per
object schema the routes answer with (the fake prefers the richer contract examples when they
exist).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from connect_harness.errors import UsageError

__all__ = ["build_api_routes", "write_api_routes"]

_REF: Final = "#/components/schemas/"
_METHODS: Final = ("get", "post", "delete")
_JSON_TYPES: Final = ("string", "integer", "number", "boolean", "object", "array")


def build_api_routes(spec: Mapping[str, Any]) -> dict[str, str]:
    """Return the fake API's data files for the description ``spec``: relative path -> text.

    Only ``/v1/`` paths are served (v2 paths are reported as not served by the fake). The same
    description always gives the same bytes.
    """
    paths = spec.get("paths")
    components = spec.get("components")
    info = spec.get("info")
    if (
        not isinstance(paths, Mapping)
        or not isinstance(components, Mapping)
        or not isinstance(components.get("schemas"), Mapping)
        or not isinstance(info, Mapping)
    ):
        raise UsageError(
            "the OpenAPI description has no 'paths', 'info' or 'components.schemas'; pass "
            "Stripe's openapi/spec3.json"
        )
    version = info.get("version")
    if isinstance(version, str):  # what the contracts were built from (spec/corrections.py)
        from connect_harness.spec.corrections import withhold

        components = withhold(spec, version)["components"]
    schemas: Mapping[str, Any] = components["schemas"]
    interner = _Interner(schemas)
    routes: list[list[Any]] = []
    answered: set[str] = set()
    lists = frozenset(
        template
        for template in paths
        if "get" in paths[template]
        and _list_items(_response(paths[template]["get"]), schemas) is not None
    )
    for template in sorted(paths):
        if not template.startswith("/v1/"):
            continue
        for method in _METHODS:
            operation = paths[template].get(method)
            if not isinstance(operation, Mapping):
                continue
            response = _response(operation)
            items = _list_items(response, schemas)
            types = [] if items is not None else _ref_names(response, schemas)
            kind = _kind(method, template, items is not None, response, types, lists)
            if kind == "search":
                items = _ref_names(
                    response.get("properties", {}).get("data", {}).get("items", {}), schemas
                )
            answered.update(types)
            answered.update(items or [])
            routes.append(
                [
                    method.upper(),
                    template,
                    kind,
                    types,
                    items or [],
                    interner.params(operation, method),
                ]
            )
    reachable = _reachable(schemas, sorted(answered))
    shapes = {name: _shape(schemas[name], schemas) for name in reachable}
    shapes = {name: shape for name, shape in shapes.items() if shape}
    names = {
        name: value
        for name in reachable
        if (value := _object_value(schemas[name])) is not None and value != name
    }
    examples = {name: _Example(schemas).object(name) for name in sorted(answered)}
    data = {
        "api_version": str(info.get("version", "")),
        "routes": routes,
        "nodes": interner.nodes,
        "shapes": shapes,
        "names": names,
    }
    return {
        "api/routes.json": _dump(data),
        "api/objects.json": _dump(examples),
    }


def _dump(document: Any) -> str:
    # One line per top-level entry keeps diffs readable and the files small.
    if isinstance(document, Mapping):
        parts = [
            f"{json.dumps(key)}: {_dump_value(document[key])}" for key in sorted(document.keys())
        ]
        return "{\n" + ",\n".join(parts) + "\n}\n"
    return json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n"


def _dump_value(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
        inner = ",\n".join(
            json.dumps(item, separators=(",", ":"), sort_keys=True) for item in value
        )
        return "[\n" + inner + "\n]"
    if isinstance(value, dict) and len(value) > 1:
        inner = ",\n".join(
            f"{json.dumps(key)}:{json.dumps(value[key], separators=(',', ':'), sort_keys=True)}"
            for key in sorted(value)
        )
        return "{\n" + inner + "\n}"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _response(operation: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        return {}
    return schema if isinstance(schema, Mapping) else {}


def _ref_names(schema: Mapping[str, Any], schemas: Mapping[str, Any] | None = None) -> list[str]:
    """The object schemas ``schema`` names; polymorphic ones (``external_account``) flattened."""
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(_REF)
        target = schemas.get(name) if schemas is not None else None
        if isinstance(target, Mapping) and "properties" not in target and target.get("anyOf"):
            return _ref_names(target, schemas)
        return [name]
    names: list[str] = []
    for branch in schema.get("anyOf", ()) or schema.get("oneOf", ()):
        for name in _ref_names(branch, schemas):
            if name not in names:
                names.append(name)
    return names


def _list_items(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> list[str] | None:
    """The item types when ``schema`` is a Stripe list object, else None."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    kind = properties.get("object", {}).get("enum")
    if kind != ["list"]:
        return None
    return _ref_names(properties.get("data", {}).get("items", {}), schemas)


def _kind(
    method: str,
    template: str,
    is_list: bool,
    response: Mapping[str, Any],
    types: Sequence[str],
    lists: frozenset[str],
) -> str:
    segments = template.strip("/").split("/")
    last_is_param = segments[-1].startswith("{")
    has_param = any(part.startswith("{") for part in segments)
    if method == "get":
        if is_list:
            return "list"
        if response.get("properties", {}).get("object", {}).get("enum") == ["search_result"]:
            return "search"
        return "retrieve" if last_is_param else "singleton"
    if method == "delete":
        return "delete"
    if last_is_param:
        return "update"
    if has_param and template not in lists:
        return "action"
    return "create"


def _reachable(schemas: Mapping[str, Any], roots: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    stack = [root for root in roots if root in schemas]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(ref for ref in _refs(schemas[name]) if ref in schemas and ref not in seen)
    return sorted(seen)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.append(ref.removeprefix(_REF))
        for key, value in node.items():
            if key != "$ref":
                found.extend(_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_refs(item))
    return found


def _object_value(schema: Mapping[str, Any]) -> str | None:
    enum = schema.get("properties", {}).get("object", {}).get("enum")
    if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
        return enum[0]
    return None


def _shape(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> dict[str, Any]:
    """What expansion needs of an object schema: expandable fields and the sub-objects to walk."""
    properties = schema.get("properties", {})
    expandable: dict[str, list[str]] = {}
    arrays: dict[str, list[str]] = {}
    other: dict[str, dict[str, Any]] = {}
    for field in schema.get("x-expandableFields", ()):
        prop = properties.get(field)
        if not isinstance(prop, Mapping):
            continue
        targets = _id_or_object(prop, schemas)
        if targets:
            expandable[field] = targets
            continue
        items = prop.get("items") if prop.get("type") == "array" else None
        targets = _id_or_object(items, schemas) if isinstance(items, Mapping) else []
        if targets:
            arrays[field] = targets
            continue
        # A field the object always has needs nothing included when expanded.
        other[field] = {} if field in schema.get("required", ()) else _include(prop, schemas)
    sub: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for field, prop in properties.items():
        if field in expandable or field in arrays or not isinstance(prop, Mapping):
            continue
        refs = _ref_names(prop, schemas)
        if len(refs) == 1 and "properties" in schemas.get(refs[0], {}):
            sub[field] = refs[0]
            continue
        kind = prop.get("properties", {}).get("object", {}).get("enum")
        if kind == ["list"]:
            lists[field] = _ref_names(prop["properties"].get("data", {}).get("items", {}), schemas)
        elif prop.get("type") == "array":
            items = _ref_names(prop.get("items", {}), schemas)
            if items:
                lists[field] = items
    shape: dict[str, Any] = {}
    if expandable:
        shape["x"] = expandable
    if arrays:
        shape["a"] = arrays
    if other:
        shape["n"] = other
    if sub:
        shape["s"] = sub
    if lists:
        shape["l"] = lists
    return shape


def _id_or_object(prop: Mapping[str, Any], schemas: Mapping[str, Any]) -> list[str]:
    """The schemas a field that holds an id or the object it names may hold (else [])."""
    branches = prop.get("anyOf", ())
    targets = [name for branch in branches for name in _ref_names(branch, schemas)]
    if targets and any(branch.get("type") == "string" for branch in branches):
        return targets
    return []


def _include(prop: Mapping[str, Any], schemas: Mapping[str, Any]) -> dict[str, Any]:
    """What expanding a field without an id includes, when the object leaves it out."""
    kind = prop.get("properties", {}).get("object", {}).get("enum")
    if kind == ["list"]:
        return {"list": _ref_names(prop["properties"].get("data", {}).get("items", {}), schemas)}
    extra = prop.get("additionalProperties")
    if prop.get("type") == "object" and isinstance(extra, Mapping):
        names = _ref_names(extra, schemas)
        value = schemas.get(names[0], {}) if len(names) == 1 else {}
        return {"map": sorted(value.get("properties", {}))}
    refs = _ref_names(prop, schemas)
    if len(refs) == 1 and "anyOf" not in prop and not prop.get("nullable"):
        # The description's plain example of the sub-object (applies_to: {"products": []}).
        return {"object": _Example(schemas).object(refs[0])}
    return {}


class _Interner:
    """Parameter schemas as a table of distinct compact nodes, children referenced by index."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._schemas = schemas
        self.nodes: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}

    def _add(self, node: dict[str, Any]) -> int:
        key = json.dumps(node, sort_keys=True, separators=(",", ":"))
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.nodes)
            self.nodes.append(node)
        return found

    def params(self, operation: Mapping[str, Any], method: str) -> int:
        """The node of an operation's parameters: query (and path-free) ones plus the form body."""
        properties: dict[str, int] = {}
        required: set[str] = set()
        for parameter in operation.get("parameters", ()):
            if parameter.get("in") == "query":
                properties[str(parameter["name"])] = self.node(parameter.get("schema", {}), ())
                if parameter.get("required"):
                    required.add(str(parameter["name"]))
        try:
            body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"][
                "schema"
            ]
        except (KeyError, TypeError):
            body = {}
        for name, sub in sorted(body.get("properties", {}).items()):
            properties.setdefault(str(name), self.node(sub, ()))
        required.update(str(name) for name in body.get("required", ()))
        node: dict[str, Any] = {"t": ["object"], "p": dict(sorted(properties.items()))}
        if required:
            node["r"] = sorted(required)
        return self._add(node)

    def node(self, schema: Mapping[str, Any], stack: tuple[str, ...]) -> int:
        return self._add(self._compact(schema, stack))

    def _compact(self, schema: Mapping[str, Any], stack: tuple[str, ...]) -> dict[str, Any]:
        if "$ref" in schema:
            name = str(schema["$ref"]).removeprefix(_REF)
            if name in stack or name not in self._schemas:
                return {}
            return self._compact(self._schemas[name], (*stack, name))
        if schema.get("x-stripeBypassValidation"):
            # Stripe takes more than the description types here (an external account's details
            # as a hash where it says string): no constraint, so a correct request is never refused.
            return {}
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            return self._merge([self._compact(branch, stack) for branch in branches])
        out: dict[str, Any] = {}
        declared = schema.get("type")
        if declared in _JSON_TYPES:
            out["t"] = [declared]
        enum = schema.get("enum")
        if declared == "string" and isinstance(enum, list):
            values = sorted(str(value) for value in enum if value != "")
            if "" in enum:
                out["u"] = 1
            if values:
                out["e"] = values
            elif "" in enum:
                out["t"] = []  # only the empty string: an "unset" branch
        if declared == "object" or "properties" in schema:
            props = schema.get("properties")
            if isinstance(props, Mapping) and props:
                out["p"] = {str(name): self.node(sub, stack) for name, sub in sorted(props.items())}
            extra = schema.get("additionalProperties")
            if isinstance(extra, Mapping):
                out["a"] = self.node(extra, stack)
            elif not props and extra is not False:
                out["a"] = self._add({})
        if declared == "array":
            items = schema.get("items")
            if isinstance(items, Mapping):
                out["i"] = self.node(items, stack)
        return out

    def _merge(self, nodes: list[dict[str, Any]]) -> dict[str, Any]:
        if any(not node.get("t") and "u" not in node for node in nodes):
            # A branch without a type constraint accepts anything.
            return {"u": 1} if any("u" in node for node in nodes) else {}
        out: dict[str, Any] = {}
        types = sorted({kind for node in nodes for kind in node.get("t", [])})
        if types:
            out["t"] = types
        if any("u" in node for node in nodes):
            out["u"] = 1
        strings = [node for node in nodes if "string" in node.get("t", [])]
        if strings and all("e" in node for node in strings):
            out["e"] = sorted({value for node in strings for value in node["e"]})
        objects = [node for node in nodes if "object" in node.get("t", [])]
        if objects:
            props: dict[str, int] = {}
            for node in objects:
                for name, index in node.get("p", {}).items():
                    props.setdefault(name, index)
            if props:
                out["p"] = dict(sorted(props.items()))
            free = [node["a"] for node in objects if "a" in node]
            if free:
                out["a"] = free[0]
        arrays = [node for node in nodes if "array" in node.get("t", [])]
        if arrays and "i" in arrays[0]:
            out["i"] = arrays[0]["i"]
        return out


class _Example:
    """A plain example of an object schema: every property, with the least surprising value."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._schemas = schemas

    def object(self, name: str) -> Any:
        return self._value("", {"$ref": _REF + name}, ())

    def _value(self, prop: str, schema: Mapping[str, Any], stack: tuple[str, ...]) -> Any:
        if "$ref" in schema:
            name = str(schema["$ref"]).removeprefix(_REF)
            if name in stack or name not in self._schemas:
                return None
            return self._value(prop, self._schemas[name], (*stack, name))
        if schema.get("nullable") and stack and prop:
            return None
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            return self._value(prop, branches[0], stack)
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[0]
        declared = schema.get("type")
        if declared == "object" or "properties" in schema:
            props = schema.get("properties", {})
            keys = sorted(props)
            for first in ("object", "id"):
                if first in keys:
                    keys.remove(first)
                    keys.insert(0, first)
            return {key: self._value(key, props[key], stack) for key in keys}
        if declared == "array":
            return []
        if declared == "boolean":
            return False
        if declared in ("integer", "number"):
            return 0
        if declared == "string":
            return ""
        return None


def write_api_routes(spec_path: str | Path, version_dir: str | Path) -> list[Path]:
    """Read the description at ``spec_path`` and write its route data under ``version_dir``.

    The files' paths are :func:`build_api_routes`'s, relative to ``version_dir``; other files there
    are left alone. Returns the paths written.
    """
    try:
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(
            f"cannot read the OpenAPI description '{spec_path}' ({type(err).__name__}); pass "
            "the path of one of ../shared/stripe-spec/openapi.spec3.*.json"
        ) from err
    written = []
    for relative, text in build_api_routes(spec).items():
        path = Path(version_dir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m connect_harness.spec.routes SPEC VERSION_DIR``: (re)build one version's data."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m connect_harness.spec.routes SPEC VERSION_DIR", file=sys.stderr)
        return 2
    try:
        written = write_api_routes(args[0], args[1])
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(str(path) for path in written)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
