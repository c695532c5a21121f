"""How the fake Stripe API answers one authenticated request: the account's access, v2 reads and the
meter event writes (``stripe_api/meter_events.py``), the v1 route of the request's API version, its
parameters, the dispatch and ``expand[]``.

:class:`connect_harness.stripe_api.server.FakeStripeAPI` handles what surrounds this (faults,
authentication, idempotent replays, recording the call); the store, dispatcher and v2 objects are
its own, shared with this router.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.spec.contracts import resolve_version
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions.issuing import private_test_route
from connect_harness.stripe_api.dispatch import Answer, Dispatcher
from connect_harness.stripe_api.expand import expand
from connect_harness.stripe_api.listing import included_list
from connect_harness.stripe_api.meter_events import MeterEvents
from connect_harness.stripe_api.objects import object_type_for_id, schema_of
from connect_harness.stripe_api.rendering import render_in_version
from connect_harness.stripe_api.routes import RouteTable, routes_for_version
from connect_harness.stripe_api.scoping import Context, check_api_version
from connect_harness.stripe_api.store import Store
from connect_harness.stripe_api.v2 import V2Objects
from connect_harness.stripe_api.validation import expand_paths, parse_params, validate_params

__all__ = ["Router"]

_ACCOUNT_ID = re.compile(r"^acct_[0-9A-Za-z]+$")


class Router:
    """Answers requests from ``store`` (v1), ``v2`` (thin events' fetches) and ``dispatcher``;
    ``default_version`` names the version served to requests that send no ``Stripe-Version``."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        v2: V2Objects,
        default_version: Callable[[], str],
        meters: MeterEvents | None = None,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._v2 = v2
        self._default_version = default_version
        self._meters = meters

    def route(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        context: Context,
        version: str | None,
        json_body: Any = None,
        now: int = 0,
        request_id: str = "",
    ) -> tuple[Answer, bool]:
        """The answer to a request, and whether the fake does not serve its route. ``json_body``
        is a v2 write's parsed JSON body (the meter event paths, ``stripe_api/meter_events.py``)."""
        v2 = path.startswith("/v2/")  # thin events' fetches: connect_harness.stripe_api.v2
        version_problem = None if v2 else check_api_version(version)
        if version_problem is not None:
            return Answer(400, version_problem), False
        account = context.account
        if account is not None and (
            not _ACCOUNT_ID.match(account)
            or account in self._store.revoked
            or not self._store.connected(account)
        ):
            return Answer(403, bodies.no_access(context.key, account)), False
        if v2 and self._meters is not None and self._meters.serves(method, path):
            return self._meters.answer(path, json_body, context, now, request_id), False
        if v2:  # other v2 writes are not served: the fake's gap, not the endpoint's fault
            answer = self._v2.answer(method, path, account=account, livemode=context.live)
            return answer, method != "GET"
        table = routes_for_version(version or self._default_version())
        private = private_test_route(method, path, form)  # the Stripe CLI's older test routes
        if private is not None:
            path, form = private
        route, values, _ = table.match(method, path)
        if route is None:
            params = parse_params(query if method == "GET" else form)
            page = self._dispatcher.payment_page(method, path, params, context)
            if page is not None:
                return page, False
            return Answer(404, bodies.unrecognized(method, path)), True
        params = parse_params(query if method in ("GET", "DELETE") else form)
        if method == "DELETE" and form:
            params.update(parse_params(form))
        problem = validate_params(params, route.params, table.nodes)
        if problem is not None:
            return Answer(400, problem), False
        answer = self._dispatcher.run(table, route, values, params, context, path)
        if answer.status != 200:
            return answer, False
        shapes = _shapes_for(version or self._default_version())
        answer.body = self._render(answer.body, shapes)
        paths = expand_paths(params)
        if paths:
            answer.body = copy.deepcopy(answer.body)
            problem = expand(
                answer.body,
                answer.schemas or route.types,
                paths,
                table.shapes,
                functools.partial(self._resolve, context, table, shapes),
                lambda obj: schema_of(obj, table),
                functools.partial(self._include, context, table, shapes),
            )
            if problem is not None:
                return Answer(400, problem), False
        return answer, False

    def _render(self, body: dict[str, Any], shapes: str) -> dict[str, Any]:
        """An answer in the request's version: an object, or each object of a list's page."""
        build = _build_in
        if body.get("object") in ("list", "search_result") and isinstance(body.get("data"), list):
            data = [
                render_in_version(item, shapes, build) if isinstance(item, dict) else item
                for item in body["data"]
            ]
            return {**body, "data": data}
        return render_in_version(body, shapes, build)

    def _include(
        self,
        context: Context,
        table: RouteTable,
        shapes: str,
        obj: Mapping[str, Any],
        field: str,
        spec: Mapping[str, Any],
    ) -> Any:
        """What an expanded field Stripe leaves out by default holds (None: leave it out)."""
        if "list" in spec:
            object_id = obj.get("id")
            if not isinstance(object_id, str):
                return None
            types = frozenset(table.object_name(name) for name in spec["list"])
            owner = self._store.objects.get(object_id)
            found = [
                self._render(self._store.materialize(stored), shapes)
                for stored in self._store.visible(
                    types, owner.owner if owner else context.account, context.live
                )
                if stored.object_id != object_id
                and object_id in self._store.materialize(stored).values()
            ]
            return included_list(found, _sub_url(table, obj, field, object_id))
        if "map" in spec:
            currency = obj.get("currency")
            if not isinstance(currency, str):
                return {}
            return {currency: {name: obj[name] for name in spec["map"] if name in obj}}
        if "object" in spec:
            return copy.deepcopy(dict(spec["object"]))
        included = self._dispatcher.included(context, obj, field)  # a customer's cash_balance
        return None if included is None else self._render(included, shapes)

    def _resolve(
        self,
        context: Context,
        table: RouteTable,
        shapes: str,
        object_id: str,
        schemas: Any,
        parent: Any,
    ) -> dict[str, Any] | None:
        """The object an expanded field names, as ``context`` sees it (None: leave the id)."""
        store = self._store
        stored = store.objects.get(object_id)
        if stored is None:
            # A reference of an object the caller can see: it belongs to the same account and
            # mode (the way events' references do), so it exists now.
            object_type = object_type_for_id(object_id)
            names = {table.object_name(name) for name in schemas}
            if object_type is None or object_type not in names:
                object_type = table.object_name(next(iter(schemas))) if len(schemas) == 1 else None
            if object_type is None:
                return None
            live = (
                parent.get("livemode") if isinstance(parent.get("livemode"), bool) else context.live
            )
            store.register_reference(object_id, object_type, context.account, bool(live), 0)
            stored = store.objects[object_id]
        if (
            stored.owner not in (context.account, None)
            and stored.type != "account"
            and not stored.shared
        ):
            return None
        return copy.deepcopy(self._render(store.materialize(stored), shapes))


def _shapes_for(version: str) -> str:
    """The contract set a request's version renders in (``2024-06-20; x_beta=v1`` as 2024-06-20)."""
    try:
        return resolve_version(version.split(";", 1)[0].strip()).shapes
    except HarnessError:
        return resolve_version(None).shapes


def _build_in(
    object_type: str, object_id: str | None, owner: str | None, livemode: bool, shapes: str
) -> dict[str, Any]:
    """The object the contracts of ``shapes`` build with that id, owner and mode."""
    from connect_harness.events.objects import build_object

    return build_object(
        object_type, object_id=object_id, account=owner, livemode=livemode, version=shapes
    )


def _sub_url(table: RouteTable, obj: Mapping[str, Any], field: str, object_id: str) -> str:
    """The path of the list an included list field pages through (``/v1/customers/cus_1/sources``).

    The description's list route ``.../{param}/<field>`` under the route that retrieves the
    object's type; without one, the object's own path and the field.
    """
    object_type = obj.get("object")
    for route in table.routes:
        if route.kind != "list" or not route.template.endswith("}/" + field):
            continue
        parent = route.template[: -len(field) - 1]
        owner, _, _ = table.match("GET", parent.replace("{", "").replace("}", ""))
        if (
            owner is not None
            and owner.kind == "retrieve"
            and any(table.object_name(name) == object_type for name in owner.types)
        ):
            return parent.rsplit("/", 1)[0] + "/" + object_id + "/" + field
    return f"/v1/{object_type}s/{object_id}/{field}"
