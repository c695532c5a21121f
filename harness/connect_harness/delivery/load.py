"""Choosing a target: a URL string, an app object, or ``module:attr`` imported like flask and uvicorn."""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import os
import sys
from typing import Any

from connect_harness import arguments
from connect_harness.delivery.asgi import AsgiTarget
from connect_harness.delivery.url import UrlTarget, _check_url
from connect_harness.delivery.wsgi import WsgiTarget
from connect_harness.errors import UsageError


def target_from(obj: object, *, allow_remote: bool = False) -> UrlTarget | WsgiTarget | AsgiTarget:
    """Turn a URL string or an app object into a :class:`Target`.

    A URL must be http(s) with a host, and the host must be a loopback address (127.0.0.0/8, ::1,
    ``localhost``) unless ``allow_remote``: forged, validly signed events should not leave the
    machine by accident. Nothing is resolved over DNS. A callable is a WSGI app if it takes
    ``(environ, start_response)`` and an ASGI app if it is a coroutine function or takes
    ``(scope, receive, send)``.
    """
    arguments.boolean("allow_remote", allow_remote)
    if isinstance(obj, (UrlTarget, WsgiTarget, AsgiTarget)):
        if isinstance(obj, UrlTarget):
            _check_url(obj.url, allow_remote=allow_remote)
        return obj
    if isinstance(obj, str):
        _check_url(obj, allow_remote=allow_remote)
        return UrlTarget(obj)
    return _app_target(obj, name=None, shown=repr(obj))


def load_app(spec: str) -> WsgiTarget | AsgiTarget:
    """Import ``"package.module:attr"`` and return it as a target, the way flask and uvicorn do.

    The current working directory goes on ``sys.path`` first. ``attr`` may be a dotted attribute
    path or a factory call with literal arguments (``"app:create_app()"``,
    ``"app:create_app('testing')"``).
    """
    arguments.text("spec", spec, example="myproject.wsgi:application")
    module_name, sep, expression = spec.partition(":")
    if not sep or not module_name.strip() or not expression.strip():
        raise UsageError(
            f"cannot load the app {spec!r}: expected 'package.module:attribute' "
            "(for example 'myproject.app:app' or 'myproject.app:create_app()')"
        )
    module_name, expression = module_name.strip(), expression.strip()
    attr_path, call_args, call_kwargs = _parse_app_expression(spec, expression)

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and (
            err.name == module_name or module_name.startswith(err.name + ".")
        ):
            raise UsageError(
                f"cannot load the app {spec!r}: there is no module named {module_name!r} "
                f"({err}); run from the directory that contains it, or install it"
            ) from err
        raise UsageError(
            f"cannot load the app {spec!r}: importing {module_name!r} failed: "
            f"{type(err).__name__}: {err}"
        ) from err
    except Exception as err:
        raise UsageError(
            f"cannot load the app {spec!r}: importing {module_name!r} failed: "
            f"{type(err).__name__}: {err}"
        ) from err

    obj: Any = module
    walked = module_name
    for part in attr_path:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            candidates = [name for name in dir(obj) if not name.startswith("_")]
            close = difflib.get_close_matches(part, candidates, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"cannot load the app {spec!r}: {walked!r} has no attribute {part!r}{hint}"
            ) from None
        except Exception as err:  # a lazy module attribute (PEP 562) that builds the app
            raise UsageError(
                f"cannot load the app {spec!r}: getting {part!r} from {walked!r} failed: "
                f"{type(err).__name__}: {err}"
            ) from err
        walked = f"{walked}.{part}"

    if call_args is not None:
        if not callable(obj):
            raise UsageError(
                f"cannot load the app {spec!r}: {walked!r} is a {type(obj).__name__}, "
                "not a factory that can be called"
            )
        try:
            obj = obj(*call_args, **call_kwargs)
        except Exception as err:
            raise UsageError(
                f"cannot load the app {spec!r}: calling the factory {walked!r} failed: "
                f"{type(err).__name__}: {err}"
            ) from err
    return _app_target(obj, name=spec, shown=repr(spec))


def _parse_app_expression(
    spec: str, expression: str
) -> tuple[list[str], list[Any] | None, dict[str, Any]]:
    """Split ``a.b`` / ``factory(arg, key=value)`` into the attribute path and literal arguments."""
    bad = UsageError(
        f"cannot load the app {spec!r}: {expression!r} is not an attribute name or a factory "
        "call with literal arguments (for example 'app' or 'create_app()')"
    )
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError as err:
        raise bad from err
    call_args: list[Any] | None = None
    call_kwargs: dict[str, Any] = {}
    if isinstance(node, ast.Call):
        try:
            call_args = [ast.literal_eval(arg) for arg in node.args]
            call_kwargs = {
                kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None
            }
        except ValueError as err:
            raise bad from err
        if len(call_kwargs) != len(node.keywords):
            raise bad
        node = node.func
    path: list[str] = []
    while isinstance(node, ast.Attribute):
        path.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise bad
    path.insert(0, node.id)
    return path, call_args, call_kwargs


def _app_target(obj: object, *, name: str | None, shown: str) -> WsgiTarget | AsgiTarget:
    kind = _app_kind(obj)
    if kind == "asgi":
        return AsgiTarget(obj, name=name)
    if kind == "wsgi":
        return WsgiTarget(obj, name=name)
    if isinstance(obj, type):
        raise UsageError(
            f"{shown} is the class {obj.__qualname__}, not an app; pass an instance "
            "(or load the factory with 'module:create_app()')"
        )
    if not callable(obj):
        raise UsageError(
            f"{shown} is a {type(obj).__name__}, not a WSGI or ASGI app; pass a URL "
            "(http://127.0.0.1:8000/webhook) or an app object"
        )
    raise UsageError(
        f"{shown} is callable but neither a WSGI app (environ, start_response) nor an ASGI app "
        "(async scope, receive, send); pass the app object itself"
    )


def _app_kind(obj: object) -> str | None:
    if isinstance(obj, type) or not callable(obj):
        return None
    if inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(obj.__call__):
        return "asgi"
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is p.empty]
    for count in (len(required), len(positional)):
        if count == 3:
            return "asgi"
        if count == 2:
            return "wsgi"
    return None
