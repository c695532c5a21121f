"""Fixture files, as the Stripe CLI's ``stripe fixtures`` and ``stripe trigger`` run them.

A fixture file is JSON: ``_meta`` (``template_version`` 0, optional ``aliases``) and ``fixtures``, a
list of API requests run in order, each with a ``name``, a ``path``, a ``method`` (get, post,
delete) and ``params``. A string may refer to an earlier request's answer, ``${customer:id}`` or
``${payment_intent:latest_charge}`` (dotted, list items by index: ``${list:data.0.id}``), to an
environment variable, ``${.env:VAR}`` or ``${.env:VAR|default}``, or ask for a fresh value,
``${generate-uuid}`` and ``${time-now-RFC3339}``. These rules are the Stripe CLI's (its
``pkg/fixtures`` package and the ``stripe fixtures`` reference); the code is ours.

Everything here is pure: :func:`load_fixture` reads and checks a file before any request is sent
(bad JSON, no ``fixtures``, an unknown or later reference: one :class:`FixtureError` naming the file,
the step and the key), :func:`apply_changes` applies ``--override``/``--add``/``--remove``/``--skip``,
and :func:`run_fixture` sends the requests through a ``send`` callable the caller gives (HTTP to a
fake Stripe API lives in the entry points), with the clock and the uuid source passed in.
Our own flows, one per ``stripe trigger`` name, are package data in ``flows/`` (:func:`load_flow`).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from connect_harness.errors import HarnessError, UsageError

__all__ = [
    "Change",
    "FixtureError",
    "FixtureFile",
    "FlowRefused",
    "Reply",
    "Request",
    "Step",
    "StepResult",
    "apply_changes",
    "encode_form",
    "fixture_document",
    "flow_names",
    "load_fixture",
    "load_flow",
    "parse_change",
    "run_fixture",
]

#: The ``_meta.template_version`` values the Stripe CLI knows (and we run).
TEMPLATE_VERSIONS = (0,)
METHODS = ("get", "post", "delete")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_BUILTINS = ("generate-uuid", "time-now-RFC3339")
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")


class FixtureError(UsageError):
    """A fixture file (or a change to it) that cannot run: names the file, the step and the key."""


class FlowRefused(HarnessError):
    """The API refused a step the flow did not expect to fail: names the step and Stripe's error."""


@dataclass(frozen=True)
class Step:
    """One request of a fixture file."""

    name: str
    path: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Where the CLI sends this step when not api.stripe.com; a fake answers every step itself.
    api_base: str | None = None
    #: The error type this step is meant to get (the CLI's ``expected_error_type``).
    expected_error_type: str | None = None


@dataclass(frozen=True)
class FixtureFile:
    """A checked fixture file: its steps in order, where it came from (for messages)."""

    source: str
    steps: tuple[Step, ...]
    aliases: tuple[str, ...] = ()

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise FixtureError(
            f"{self.source}: no step named {name!r}; its steps are "
            f"{', '.join(step.name for step in self.steps)}"
        )


@dataclass(frozen=True)
class Request:
    """A step with its references resolved: what goes to the API."""

    step: str
    method: str
    path: str
    params: Mapping[str, Any]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Reply:
    """The API's answer to a :class:`Request`."""

    status: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class StepResult:
    """What one step did."""

    step: str
    method: str
    path: str
    status: int
    body: Mapping[str, Any]

    @property
    def object_id(self) -> str | None:
        value = self.body.get("id")
        return value if isinstance(value, str) else None


# --- reading ----------------------------------------------------------------------------------------


def load_fixture(text: str | bytes, source: str) -> FixtureFile:
    """Read and check a fixture file; a :class:`FixtureError` before anything is sent."""
    try:
        document = json.loads(text)
    except RecursionError as err:
        raise FixtureError(f"{source}: the JSON is nested too deeply to be a fixture file") from err
    except ValueError as err:
        raise FixtureError(
            f"{source} is not JSON ({err}); a fixture file is a JSON object"
        ) from err
    if not isinstance(document, dict):
        raise FixtureError(
            f"{source}: expected a JSON object with 'fixtures', not {document!r:.40}"
        )
    meta = document.get("_meta", {})
    if not isinstance(meta, dict):
        raise FixtureError(f"{source}: '_meta' must be an object, e.g. {{\"template_version\": 0}}")
    version = meta.get("template_version", 0)
    if isinstance(version, bool) or version not in TEMPLATE_VERSIONS:
        raise FixtureError(
            f"{source}: _meta.template_version {version!r} is not supported; expected "
            f"{' or '.join(map(str, TEMPLATE_VERSIONS))}, as the Stripe CLI writes"
        )
    aliases = meta.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(name, str) for name in aliases):
        raise FixtureError(f"{source}: _meta.aliases must be a list of trigger names")
    fixtures = document.get("fixtures")
    if not isinstance(fixtures, list) or not fixtures:
        raise FixtureError(
            f"{source}: expected 'fixtures', a non-empty list of requests "
            '({"name": ..., "path": ..., "method": ..., "params": {...}})'
        )
    steps = tuple(_step(source, index, item) for index, item in enumerate(fixtures))
    fixture = FixtureFile(source, steps, tuple(aliases))
    try:
        check_references(fixture)
    except RecursionError as err:
        raise FixtureError(f"{source}: the params are nested too deeply to send") from err
    return fixture


def _step(source: str, index: int, item: Any) -> Step:
    where = f"{source}: fixtures[{index}]"
    if not isinstance(item, dict):
        raise FixtureError(f"{where} must be an object with name, path, method and params")
    name = item.get("name")
    if not isinstance(name, str) or not name or ":" in name:
        raise FixtureError(f"{where}: expected 'name', a text without ':' (e.g. \"customer\")")
    where = f"{source}: step {name!r}"
    path = item.get("path")
    if not isinstance(path, str) or not path.startswith("/") or _UNSENDABLE.search(path):
        raise FixtureError(
            f"{where}: expected 'path', an API path like \"/v1/customers\" (no spaces or "
            f"control characters), not {path!r:.60}"
        )
    method = item.get("method")
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise FixtureError(f"{where}: 'method' {method!r} is not one of {', '.join(METHODS)}")
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise FixtureError(f"{where}: 'params' must be an object of request parameters")
    headers = item.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise FixtureError(f"{where}: 'headers' must be an object of text values")
    api_base = item.get("api_base")
    expected = item.get("expected_error_type")
    for key, value in (("api_base", api_base), ("expected_error_type", expected)):
        if value is not None and not isinstance(value, str):
            raise FixtureError(f"{where}: '{key}' must be a text")
    return Step(name, path, method.lower(), params, headers, api_base, expected)


def fixture_document(fixture: FixtureFile) -> dict[str, Any]:
    """The fixture as a file again (what :func:`load_fixture` reads back)."""
    steps = []
    for step in fixture.steps:
        item: dict[str, Any] = {
            "name": step.name,
            "path": step.path,
            "method": step.method,
            "params": step.params,
        }
        if step.headers:
            item["headers"] = dict(step.headers)
        if step.api_base is not None:
            item["api_base"] = step.api_base
        if step.expected_error_type is not None:
            item["expected_error_type"] = step.expected_error_type
        steps.append(item)
    meta: dict[str, Any] = {"template_version": 0}
    if fixture.aliases:
        meta["aliases"] = list(fixture.aliases)
    return {"_meta": meta, "fixtures": steps}


def check_references(fixture: FixtureFile) -> None:
    """Every ``${name:path}`` names an earlier step; builtins and ``.env`` are well formed."""
    earlier: set[str] = set()
    names = {step.name for step in fixture.steps}
    for step in fixture.steps:
        for key, text in _strings(step):
            for reference in _REFERENCE.findall(text):
                _check_reference(fixture.source, step.name, key, reference, earlier, names)
        earlier.add(step.name)


def _check_reference(
    source: str, step: str, key: str, reference: str, earlier: set[str], names: set[str]
) -> None:
    where = f"{source}: step {step!r}, {key}"
    if reference in _BUILTINS:
        return
    name, colon, path = reference.partition(":")
    if not colon or not path:
        raise FixtureError(
            f"{where}: ${{{reference}}} is not a reference; expected ${{step:path}} such as "
            f"${{customer:id}}, ${{.env:VAR}} or one of {', '.join(_BUILTINS)}"
        )
    if name == ".env":
        return
    if name in earlier:
        return
    if name in names:
        raise FixtureError(
            f"{where}: ${{{reference}}} refers to step {name!r}, which runs later; a step can use "
            "only the answers of the steps before it"
        )
    close = difflib.get_close_matches(name, sorted(earlier), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise FixtureError(
        f"{where}: ${{{reference}}} names no step {name!r}; the steps before it are "
        f"{', '.join(sorted(earlier)) or 'none'}{hint}"
    )


def _strings(step: Step) -> Iterator[tuple[str, str]]:
    yield "path", step.path
    for key, value in _walk(step.params, "params"):
        if isinstance(value, str):
            yield key, value
    for key, value in step.headers.items():
        yield f"headers.{key}", value


def _walk(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}.{index}")
    else:
        yield prefix, value


# --- our flows ---------------------------------------------------------------------------------------


def _flows() -> Any:
    return resources.files("connect_harness.lifecycle").joinpath("flows")


def flow_names() -> dict[str, str]:
    """Every trigger name we have a flow for -> the flow file's stem (aliases included)."""
    return dict(_flow_names())


@functools.lru_cache(maxsize=1)
def _flow_names() -> tuple[tuple[str, str], ...]:
    names: dict[str, str] = {}
    for entry in _flows().iterdir():
        if not entry.name.endswith(".json"):
            continue
        stem = entry.name[: -len(".json")]
        names[stem] = stem
        meta = json.loads(entry.read_text(encoding="utf-8")).get("_meta", {})
        for alias in meta.get("aliases", []):
            names[alias] = stem
    return tuple(sorted(names.items()))


def load_flow(name: str) -> FixtureFile:
    """Our flow for the trigger ``name`` (a ``stripe trigger`` name or alias)."""
    names = flow_names()
    stem = names.get(name)
    if stem is None:
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(
            f"no trigger named {name!r}; {hint}('connect-harness trigger --list' lists all "
            f"{len(names)})"
        )
    text = _flows().joinpath(f"{stem}.json").read_text(encoding="utf-8")
    return load_fixture(text, f"flow {name!r}")


# --- changes (--override, --add, --remove, --skip) ----------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One ``--override``/``--add``/``--remove`` as the Stripe CLI spells it: ``step:path=value``."""

    flag: str
    step: str
    path: tuple[str, ...]
    value: str | None = None


def parse_change(flag: str, text: str) -> Change:
    """``--override step:path=value``, ``--add step:path=value``, ``--remove step:path``.

    As with the Stripe CLI, ``--override`` and ``--add`` both set the param, creating it (and the
    hashes on its path) when the step has none; ``--remove`` needs the param to be there.
    """
    example = "customer:name=Jenny" if flag != "--remove" else "customer:description"
    step, colon, rest = text.partition(":")
    if flag == "--remove":
        path, value = rest, None
        ok = bool(colon and step and path) and "=" not in path
    else:
        path, equals, value = rest.partition("=")
        ok = bool(colon and step and path and equals)
    parts = tuple(path.split("."))
    if not ok or any(not part for part in parts):
        form = "STEP:PATH" if flag == "--remove" else "STEP:PATH=VALUE"
        raise UsageError(f"{flag} {text!r} is not {form}; e.g. {flag} {example}")
    return Change(flag, step, parts, value)


def apply_changes(
    fixture: FixtureFile, changes: Sequence[Change], skip: Sequence[str] = ()
) -> FixtureFile:
    """The fixture with the changes made and the skipped steps left out, checked again.

    A change goes to the first step of its name (the CLI's quote flows name three steps
    ``quote``); ``--skip NAME`` leaves out every step of that name.
    """
    steps = list(fixture.steps)
    for name in skip:
        fixture.step(name)  # a FixtureError for a name the file has not
    for change in changes:
        step = fixture.step(change.step)
        index = next(i for i, item in enumerate(steps) if item.name == step.name)
        params = json.loads(json.dumps(steps[index].params))
        _change(params, change, fixture.source)
        steps[index] = replace(steps[index], params=params)
    kept = tuple(step for step in steps if step.name not in skip)
    if not kept:
        raise FixtureError(f"{fixture.source}: --skip leaves no step to run")
    changed = FixtureFile(fixture.source, kept, fixture.aliases)
    try:
        check_references(changed)
    except FixtureError as err:
        if not skip:
            raise
        raise FixtureError(f"{err} (after --skip {', '.join(skip)})") from err
    return changed


def _change(params: dict[str, Any], change: Change, source: str) -> None:
    dotted = ".".join(change.path)
    where = f"{change.flag} {change.step}:{dotted}"
    node: Any = params
    for part in change.path[:-1]:
        child = _child(node, part)
        if child is None and change.flag != "--remove" and isinstance(node, dict):
            child = node[part] = {}
        if not isinstance(child, (dict, list)):
            raise FixtureError(
                f"{where}: {source} step {change.step!r} has no hash or list at {part!r}"
            )
        node = child
    last = change.path[-1]
    exists = _child(node, last) is not None
    if change.flag == "--remove":
        if not exists:
            raise FixtureError(f"{where}: {source} step {change.step!r} has no param {dotted!r}")
        if isinstance(node, list):
            del node[int(last)]
        else:
            del node[last]
        return
    if isinstance(node, list):
        index = int(last) if last.isdigit() else -1
        if index == len(node):
            node.append(change.value)
        elif 0 <= index < len(node):
            node[index] = change.value
        else:
            raise FixtureError(f"{where}: index {last!r} is outside the list of {len(node)}")
    else:
        node[last] = change.value


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


# --- running -------------------------------------------------------------------------------------------


def run_fixture(
    fixture: FixtureFile,
    send: Callable[[Request], Reply],
    *,
    env: Mapping[str, str],
    now: Callable[[], str],
    new_uuid: Callable[[], str],
    on_step: Callable[[StepResult], None] = lambda result: None,
) -> list[StepResult]:
    """Send the steps in order, each with the references to earlier answers resolved.

    A step the API refuses stops the flow with :class:`FlowRefused` unless it carries
    ``expected_error_type`` and the error has that type (then its answer is the error and the flow
    goes on, as the CLI does). ``now`` gives ``${time-now-RFC3339}``, ``new_uuid`` ``${generate-uuid}``.
    """
    answers: dict[str, Mapping[str, Any]] = {}
    results: list[StepResult] = []
    for step in fixture.steps:
        resolve = _Resolver(fixture.source, step.name, answers, env, now, new_uuid)
        request = Request(
            step=step.name,
            method=step.method,
            path=resolve.text(step.path, "path"),
            params=resolve.value(dict(step.params), "params"),
            headers={
                key: resolve.text(value, f"headers.{key}") for key, value in step.headers.items()
            },
        )
        reply = send(request)
        if reply.status >= 400:
            error = reply.body.get("error")
            error = error if isinstance(error, Mapping) else {}
            if step.expected_error_type is None or error.get("type") != step.expected_error_type:
                message = error.get("message") or f"HTTP {reply.status}"
                expected = (
                    f" (it expects a {step.expected_error_type})"
                    if step.expected_error_type
                    else ""
                )
                raise FlowRefused(
                    f"{fixture.source}: step {step.name!r} ({request.method.upper()} "
                    f"{request.path}) was refused{expected}: {error.get('type', 'error')}: {message}"
                )
        answers[step.name] = reply.body
        result = StepResult(step.name, request.method, request.path, reply.status, reply.body)
        results.append(result)
        on_step(result)
    return results


@dataclass
class _Resolver:
    source: str
    step: str
    answers: Mapping[str, Mapping[str, Any]]
    env: Mapping[str, str]
    now: Callable[[], str]
    new_uuid: Callable[[], str]

    def value(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {name: self.value(item, f"{key}.{name}") for name, item in value.items()}
        if isinstance(value, list):
            return [self.value(item, f"{key}.{index}") for index, item in enumerate(value)]
        if isinstance(value, str):
            whole = _REFERENCE.fullmatch(value)
            if whole is not None:
                return self._lookup(whole.group(1), key)
            return self.text(value, key)
        return value

    def text(self, text: str, key: str) -> str:
        return _REFERENCE.sub(lambda match: _form_text(self._lookup(match.group(1), key)), text)

    def _lookup(self, reference: str, key: str) -> Any:
        if reference == "generate-uuid":
            return self.new_uuid()
        if reference == "time-now-RFC3339":
            return self.now()
        name, _, path = reference.partition(":")
        where = f"{self.source}: step {self.step!r}, {key}"
        if name == ".env":
            variable, bar, default = path.partition("|")
            if variable in self.env:
                return self.env[variable]
            if bar:
                return default
            raise FixtureError(
                f"{where}: ${{{reference}}} needs the environment variable {variable} (set it, "
                f"or give a default: ${{.env:{variable}|value}})"
            )
        node: Any = self.answers[name]
        walked: list[str] = []
        for part in path.split("."):
            child = _child(node, part)
            if child is None:
                at = ".".join(walked) or "the answer"
                raise FixtureError(
                    f"{where}: ${{{reference}}} does not resolve: step {name!r}'s answer has no "
                    f"{part!r} under {at}; expected a path into it like ${{{name}:id}}"
                )
            walked.append(part)
            node = child
        return node


# --- the wire ---------------------------------------------------------------------------------------


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Params as Stripe's form encoding: ``a[b]=1``, lists by index ``a[0]=x``, booleans as text."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        _encode(pairs, str(key), value)
    return pairs


def _encode(pairs: list[tuple[str, str]], key: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            _encode(pairs, f"{key}[{name}]", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _encode(pairs, f"{key}[{index}]", item)
    else:
        pairs.append((key, _form_text(value)))


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
