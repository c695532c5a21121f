"""One operation of the route table, carried out on the store as the asking context sees it.

The route's kind (from the description) decides what happens: ``retrieve``/``update``/``action``/
``delete`` find the object the last path parameter names, ``list``/``search`` show the visible
objects of the item type, ``create`` makes one, ``singleton`` answers the object a path names
without an id (``/v1/balance``, ``/v1/account``). Under ``/v1/accounts/{account}/`` the account in
the path is the owner, as on Stripe.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connect_harness.lifecycle.meters import create_defaults
from connect_harness.stripe_api import bodies, listing
from connect_harness.stripe_api.acting import Acting, Target
from connect_harness.stripe_api.actions.funds import cash_balance_of
from connect_harness.stripe_api.references import foreign_reference
from connect_harness.stripe_api.rendering import scalar_fields
from connect_harness.stripe_api.routes import Route, RouteTable
from connect_harness.stripe_api.scoping import Context
from connect_harness.stripe_api.store import Store, Stored, balance_key, capability_key

__all__ = ["Answer", "Dispatcher"]

# POST /v1/<collection>/{id}/<action>: the fields the action sets when the object has them, for
# actions no handler of connect_harness.stripe_api.actions carries out. The routes come from the
# description; what an action does to an object's status is not in it.
_ACTIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("charge", "capture"): {"captured": True},
    ("checkout.session", "expire"): {"status": "expired"},
    ("credit_note", "void"): {"status": "void"},
    ("dispute", "close"): {"status": "lost"},
    ("invoice", "finalize"): {"status": "open"},
    ("invoice", "mark_uncollectible"): {"status": "uncollectible"},
    ("invoice", "pay"): {"status": "paid", "paid": True},
    ("invoice", "void"): {"status": "void"},
    ("payment_intent", "cancel"): {"status": "canceled"},
    ("payment_intent", "capture"): {"status": "succeeded"},
    ("payment_intent", "confirm"): {"status": "succeeded"},
    ("payment_method", "detach"): {"customer": None},
    ("payout", "cancel"): {"status": "canceled"},
    ("quote", "accept"): {"status": "accepted"},
    ("quote", "cancel"): {"status": "canceled"},
    ("quote", "finalize"): {"status": "open"},
    ("refund", "cancel"): {"status": "canceled"},
    ("review", "approve"): {"open": False, "reason": "approved"},
    ("setup_intent", "cancel"): {"status": "canceled"},
    ("setup_intent", "confirm"): {"status": "succeeded"},
    ("subscription", "resume"): {"status": "active"},
    ("subscription_schedule", "cancel"): {"status": "canceled"},
    ("subscription_schedule", "release"): {"status": "released"},
    ("topup", "cancel"): {"status": "canceled"},
}

_NOUNS = {"bank_account": "external account", "card": "external account"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    stored: Stored | None = None
    object_type: str | None = None
    object_id: str | None = None
    object_owner: str | None = None
    object_livemode: bool | None = None
    #: The schemas the body is an object (or list) of, for expand.
    schemas: tuple[str, ...] = ()


#: Stripe's private Checkout payment page API (not in its API description): the page and its confirm.
_PAYMENT_PAGE = re.compile(r"/v1/payment_pages/(cs_\w+)(/confirm)?")


class Dispatcher:
    """Carries out routes on a store; one per fake, used under the fake's lock."""

    def __init__(self, store: Store, platform: str) -> None:
        self.store = store
        self.platform = platform
        #: The handlers of connect_harness.stripe_api.actions, for the request being served.
        self.acting = Acting(store, platform)

    def run(
        self,
        table: RouteTable,
        route: Route,
        values: Mapping[str, str],
        params: dict[str, Any],
        context: Context,
        path: str,
    ) -> Answer:
        owner = context.account
        if route.template.startswith("/v1/accounts/{"):
            account = values[route.names[0]]
            if account != self.platform and (
                context.account not in (None, account)
                or account in self.store.revoked
                or not self.store.connected(account)
            ):
                answer = Answer(403, bodies.no_access(context.key, account))
                answer.object_type, answer.object_id, answer.object_owner = (
                    "account",
                    account,
                    account,
                )
                return answer
            owner = None if account == self.platform else account
        types = frozenset(table.object_name(name) for name in (route.items or route.types))
        kind = route.kind
        refused = foreign_reference(self.store, table, route, params, owner, context.live)
        if refused is not None:  # an object it cannot see: connect_harness.stripe_api.references
            return Answer(404, refused)
        if kind in ("list", "search"):
            return self._list(route, values, params, context, owner, types, path)
        if kind == "singleton":
            return self._singleton(table, route, values, context, owner)
        if kind == "create":
            return self._create_acting(table, route, values, params, context, owner)
        object_id = values[route.names[-1]] if route.names else ""
        named = self._named(types, object_id, values, context, owner)
        if named is not None:
            object_id, values = named, {**values, route.names[-1]: named}
        if kind == "action":
            answer = self._find(route.names, values, object_id, None, context, owner)
            if answer.stored is None:
                return answer
            if answer.stored.type not in types:
                return self._create_acting(table, route, values, params, context, owner)
            verb = route.template.rsplit("/", 1)[-1]
            action = _ACTIONS.get((answer.stored.type, verb), {})
            answer.schemas = route.types
            found = answer
            return self._acting(
                verb,
                answer,
                params,
                values,
                context,
                lambda: self._update(found, params, action, _Form(table, route)),
            )
        answer = self._find(route.names, values, object_id, types, context, owner)
        answer.schemas = route.types
        if kind == "retrieve":
            if answer.stored is not None and answer.stored.deleted:
                answer.body = _deleted_stub(answer.stored)
            return answer
        found = answer
        if kind == "update":
            return self._acting(
                "update",
                answer,
                params,
                values,
                context,
                lambda: self._update(found, params, {}, _Form(table, route)),
            )
        return self._acting(
            "delete", answer, params, values, context, lambda: self._delete(found, route, table)
        )

    def payment_page(
        self, method: str, path: str, params: dict[str, Any], context: Context
    ) -> Answer | None:
        """Stripe's private Checkout payment page calls the Stripe CLI's fixtures make (None: not
        one): ``GET /v1/payment_pages/{session}`` answers the session, ``POST .../confirm`` pays
        it by the ``checkout.session`` ``payment_page_confirm`` handler."""
        found = _PAYMENT_PAGE.fullmatch(path)
        if found is None or (method, bool(found.group(2))) not in (("GET", False), ("POST", True)):
            return None
        session_id = found.group(1)
        sessions = frozenset({"checkout.session"})
        answer = self._find(
            ("session",), {"session": session_id}, session_id, sessions, context, context.account
        )
        if answer.status != 200 or answer.stored is None:
            return answer
        if method == "GET":
            return answer
        handler = self.acting.handler("checkout.session", "payment_page_confirm")
        if handler is None:  # no request begun: the dispatcher used on its own
            return Answer(404, bodies.unrecognized(method, path))
        stored = answer.stored
        target = Target(
            stored.type,
            "payment_page_confirm",
            self.store.materialize(stored),
            stored.owner,
            context.live,
        )
        return self.acting.run(
            handler,
            target,
            answer,
            params,
            {"session": session_id},
            lambda: Answer(404, bodies.unrecognized(method, path)),
        )

    # --- actions ---------------------------------------------------------------------------------

    def _named(
        self,
        types: frozenset[str],
        object_id: str,
        values: Mapping[str, str],
        context: Context,
        owner: str | None,
    ) -> str | None:
        """The id of the object a test name in the path stands for (``pm_card_visa`` makes a new
        payment method, as on Stripe); None: not such a name."""
        if not object_id or object_id in self.store.objects:
            return None
        return self.acting.named(types, object_id, values, owner, context.live)

    def _create_acting(
        self,
        table: RouteTable,
        route: Route,
        values: Mapping[str, str],
        params: dict[str, Any],
        context: Context,
        owner: str | None,
    ) -> Answer:
        """A create, carried out by the type's ``create`` handler when it has one."""
        schemas = [name for name in route.types if not name.startswith("deleted_")]
        # A route that makes one of several types (a customer's source) is the first's that
        # has a handler.
        handled = [
            (table.object_name(name), handler)
            for name in schemas
            if (handler := self.acting.handler(table.object_name(name), "create")) is not None
        ]
        if not handled:
            return self._create(table, route, values, params, context, owner)
        for index, name in enumerate(route.names):  # the parents must exist first
            if index == 0 and route.template.startswith("/v1/accounts/{"):
                continue
            parent = self._find(
                route.names[: index + 1], values, values[name], None, context, owner
            )
            if parent.status != 200:
                return parent
        object_type, handler = handled[0]
        answer = Answer(200, {}, object_type=object_type, schemas=tuple(schemas))
        return self.acting.run(
            handler,
            Target(object_type, "create", None, owner, context.live),
            answer,
            params,
            values,
            lambda: self._create(table, route, values, params, context, owner),
        )

    def _acting(
        self,
        verb: str,
        answer: Answer,
        params: dict[str, Any],
        values: Mapping[str, str],
        context: Context,
        generic: Callable[[], Answer],
    ) -> Answer:
        """``verb`` on the object ``answer`` found, by its type's handler when it has one."""
        stored = answer.stored
        handler = None
        if stored is not None and not stored.deleted:
            handler = self.acting.handler(stored.type, verb)
        if stored is None or handler is None:
            return generic()
        target = Target(
            stored.type, verb, self.store.materialize(stored), stored.owner, context.live
        )
        return self.acting.run(handler, target, answer, params, values, generic)

    # --- finding -----------------------------------------------------------------------------------

    def _find(
        self,
        names: tuple[str, ...],
        values: Mapping[str, str],
        object_id: str,
        types: frozenset[str] | None,
        context: Context,
        owner: str | None,
    ) -> Answer:
        """Look an object up as ``context`` sees it: the answer holds it, or Stripe's 404."""
        key = object_id
        if names and names[-1] == "capability" and owner is not None:
            key = capability_key(owner, object_id)
            self._know_capability(owner, object_id)
        if types == frozenset({"event"}):
            return self._event(object_id, context)
        stored = self.store.objects.get(key)
        if object_id == self.platform and stored is None:
            stored = self._platform_account()
        noun = _noun(types, stored)
        if stored is None:
            return Answer(404, bodies.no_such(noun, object_id), object_id=object_id)
        answer = Answer(
            404,
            bodies.no_such(noun, object_id),
            object_type=stored.type,
            object_id=object_id,
            object_owner=stored.owner,
            object_livemode=stored.livemode,
        )
        if types is not None and stored.type not in types:
            return answer
        if (
            stored.owner != owner
            and not stored.shared
            and not (stored.type == "account" and stored.owner == object_id)
        ):
            return answer
        self.store.materialize(stored)
        answer.object_livemode = stored.livemode
        if stored.livemode is not None and stored.livemode != context.live:
            answer.body = bodies.no_such(
                noun, object_id, exists_in="live" if stored.livemode else "test"
            )
            return answer
        answer.status, answer.stored, answer.body = 200, stored, stored.obj or {}
        return answer

    def _event(self, event_id: str, context: Context) -> Answer:
        stored = self.store.events.get(event_id)
        answer = Answer(
            404, bodies.no_such("event", event_id), object_type="event", object_id=event_id
        )
        if stored is None:
            return answer
        answer.object_owner, answer.object_livemode = stored.owner, stored.livemode
        if stored.owner != context.account:
            return answer
        if stored.livemode != context.live:
            answer.body = bodies.no_such(
                "event", event_id, exists_in="live" if stored.livemode else "test"
            )
            return answer
        answer.status, answer.body = 200, stored.obj or {}
        return answer

    def _know_capability(self, account: str, name: str) -> None:
        """A capability exists when its account's object lists it."""
        key = capability_key(account, name)
        if key in self.store.objects:
            return
        stored = self.store.objects.get(account)
        if stored is None:
            return
        capabilities = self.store.materialize(stored).get("capabilities")
        if isinstance(capabilities, Mapping) and name in capabilities:
            self.store.objects[key] = Stored("capability", name, account, None, seed=0)
            obj = self.store.materialize(self.store.objects[key])
            obj["id"] = name
            if isinstance(capabilities[name], str) and "status" in obj:
                obj["status"] = capabilities[name]

    def _platform_account(self) -> Stored:
        stored = self.store.objects.get(self.platform)
        if stored is None:
            stored = self.store.objects[self.platform] = Stored(
                "account", self.platform, None, None
            )
        self.store.materialize(stored)
        return stored

    # --- kinds ---------------------------------------------------------------------------------------

    def _singleton(
        self,
        table: RouteTable,
        route: Route,
        values: Mapping[str, str],
        context: Context,
        owner: str | None,
    ) -> Answer:
        if route.template == "/v1/account":
            stored = self.store.objects.get(owner) if owner else self._platform_account()
            assert stored is not None
            obj = self.store.materialize(stored)
            return Answer(200, obj, stored, "account", stored.object_id, owner, None, route.types)
        if route.names:
            parent = self._find(
                route.names[:-1], values, values[route.names[-1]], None, context, owner
            )
            if parent.status != 200:
                return parent
        schema = route.types[0] if route.types else ""
        object_type = table.object_name(schema)
        if object_type == "cash_balance" and route.names:
            cash_balance_of(self.store, values[route.names[-1]], owner, context.live)
        if object_type == "balance":
            key = balance_key(owner, context.live)
        else:
            parts = [route.template, *(values[name] for name in route.names)]
            key = "/".join([*parts, owner or "platform", context.mode])
        stored = self.store.objects.get(key)
        if stored is None:
            stored = self.store.objects[key] = Stored(object_type, None, owner, context.live)
        obj = self.store.materialize(stored)
        return Answer(200, obj, stored, object_type, None, owner, context.live, route.types)

    def included(self, context: Context, obj: Mapping[str, Any], field: str) -> Any:
        """What expanding ``field`` of ``obj`` includes where the object has no id to look up
        (connect_harness.stripe_api.rendering.INCLUDED): a customer's ``cash_balance`` is the
        object ``GET /v1/customers/{customer}/cash_balance`` serves. None: nothing to include."""
        customer = obj.get("id")
        if (
            obj.get("object") != "customer"
            or field != "cash_balance"
            or not isinstance(customer, str)
        ):
            return None
        stored = self.store.objects.get(customer)
        owner = stored.owner if stored is not None else context.account
        return dict(cash_balance_of(self.store, customer, owner, context.live))

    def _list(
        self,
        route: Route,
        values: Mapping[str, str],
        params: Mapping[str, Any],
        context: Context,
        owner: str | None,
        types: frozenset[str],
        path: str,
    ) -> Answer:
        parent_id: str | None = None
        if route.names and not route.template.startswith("/v1/accounts/{"):
            parent_id = values[route.names[-1]]
            parent = self._find(route.names, values, parent_id, None, context, owner)
            if parent.status != 200:
                return parent
        if types == frozenset({"capability"}) and owner is not None:
            account = self.store.objects.get(owner)
            named = self.store.materialize(account).get("capabilities") if account else None
            for name in named if isinstance(named, Mapping) else ():
                self._know_capability(owner, name)
        if types == frozenset({"event"}):
            found = [
                stored.obj or {}
                for stored in reversed(list(self.store.events.values()))
                if stored.owner == context.account and stored.livemode == context.live
            ]
        elif types == frozenset({"account"}) and owner is None:
            found = [
                self.store.materialize(stored)
                for stored in reversed(list(self.store.objects.values()))
                if stored.type == "account" and stored.owner is not None and not stored.deleted
            ]
        else:
            found = [
                self.store.materialize(s) for s in self.store.visible(types, owner, context.live)
            ]
        if parent_id is not None:
            found = [obj for obj in found if parent_id in obj.values()]
        try:  # paging and search: connect_harness.stripe_api.listing
            if route.kind == "search":
                body = listing.search_page_of(found, params, path)
            else:
                body = listing.page_of(found, params, path, _noun(types, None))
        except listing.ListProblem as problem:
            return Answer(400, problem.body)
        return Answer(200, body, object_type=_first(types), schemas=route.items)

    def _create(
        self,
        table: RouteTable,
        route: Route,
        values: Mapping[str, str],
        params: dict[str, Any],
        context: Context,
        owner: str | None,
    ) -> Answer:
        for index, name in enumerate(route.names):
            if index == 0 and route.template.startswith("/v1/accounts/{"):
                continue
            parent = self._find(
                route.names[: index + 1], values, values[name], None, context, owner
            )
            if parent.status != 200:
                return parent
        schemas = [name for name in route.types if not name.startswith("deleted_")]
        object_type = table.object_name(schemas[0]) if schemas else "unknown"
        stored = self.store.create(object_type, owner, context.live)
        if object_type == "account" and stored.object_id is not None:
            self.store.know_account(stored.object_id)
        obj = self.store.materialize(stored)
        for name in route.names:
            if name in obj and isinstance(obj[name], (str, type(None))):
                obj[name] = values[name]
        obj.update({k: v for k, v in create_defaults(object_type).items() if k in obj})
        form = _Form(table, route)
        _apply_form(obj, params, form.top, form.nodes)
        form.absent_scalars(obj, params, object_type)
        return Answer(
            200,
            obj,
            stored,
            object_type,
            stored.object_id,
            stored.owner,
            stored.livemode,
            tuple(schemas),
        )

    def _update(
        self,
        answer: Answer,
        params: dict[str, Any],
        action: Mapping[str, Any],
        form: _Form | None = None,
    ) -> Answer:
        stored = answer.stored
        if stored is None or stored.obj is None:
            return answer
        if stored.deleted:
            answer.status, answer.stored = 404, None
            answer.body = bodies.no_such(_noun(None, stored), stored.object_id or "")
            return answer
        _apply_form(stored.obj, params, form.top if form else None, form.nodes if form else ())
        if form is not None:
            form.absent_scalars(stored.obj, params, stored.type)
        for name, value in action.items():
            if name in stored.obj:
                stored.obj[name] = value
        answer.body = stored.obj
        return answer

    def _delete(self, answer: Answer, route: Route, table: RouteTable) -> Answer:
        stored = answer.stored
        if stored is None:
            return answer
        if stored.deleted:
            answer.status, answer.stored = 404, None
            answer.body = bodies.no_such(_noun(None, stored), stored.object_id or "")
            return answer
        if not any(name.startswith("deleted_") for name in route.types) and stored.obj is not None:
            # Deleting a subscription cancels it; the answer is the object, not a stub.
            if "status" in stored.obj:
                stored.obj["status"] = "canceled"
            answer.body = stored.obj
            return answer
        stored.deleted = True
        answer.body = _deleted_stub(stored)
        return answer


def _noun(types: frozenset[str] | None, stored: Stored | None) -> str:
    if types:
        name = _first(types)
    elif stored is not None:
        name = stored.type
    else:
        name = "object"
    return _NOUNS.get(name, name)


def _first(types: frozenset[str]) -> str:
    named = sorted(name for name in types if not name.startswith("deleted_"))
    return named[0] if named else sorted(types)[0]


def _deleted_stub(stored: Stored) -> dict[str, Any]:
    return {"id": stored.object_id, "object": stored.type, "deleted": True}


class _Form:
    """A route's parameter description (connect_harness.spec.routes' nodes), so a form value is
    stored with the JSON type the description gives it."""

    def __init__(self, table: RouteTable, route: Route) -> None:
        self.nodes: list[dict[str, Any]] = table.nodes
        self.top: dict[str, Any] | None = table.nodes[route.params]
        self.version = table.api_version

    def absent_scalars(self, obj: dict[str, Any], params: Mapping[str, Any], kind: str) -> None:
        """Scalar parameters naming a field the request's version gives objects of ``kind``
        but the stored state lacks (it keeps the newest shape): set, with their type, so that
        version renders them (an invoice's ``application_fee_amount``, a plan's
        ``aggregate_usage`` at 2023-08-16); a value that does not fit the field is left out."""
        fields = scalar_fields(kind, self.version) if self.version else {}
        for name, value in params.items():
            prop = fields.get(name)
            if prop is None or name in obj or not isinstance(value, str) or value == "":
                continue
            sub = _child(self.top, name, self.nodes)
            stored = _coerce(None, value, sub.get("t", ()) if sub else ())
            kinds = prop.get("type")
            kinds = [kinds] if isinstance(kinds, str) else kinds or []
            fits = {
                bool: "boolean",
                int: "integer",
                float: "number",
                str: "string",
            }.get(type(stored))
            allowed = prop.get("enum")
            if fits in kinds and (allowed is None or stored in allowed):
                obj[name] = stored


def _child(
    node: Mapping[str, Any] | None, name: str, nodes: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if node is None:
        return None
    index = node.get("p", {}).get(name)
    if index is None:
        index = node.get("a")
    return nodes[index] if isinstance(index, int) and 0 <= index < len(nodes) else None


def _apply_form(
    obj: dict[str, Any],
    params: Mapping[str, Any],
    node: Mapping[str, Any] | None = None,
    nodes: list[dict[str, Any]] | tuple[()] = (),
) -> None:
    """Apply nested parameters the way Stripe does, to the fields the object has.

    ``metadata[key]=value`` sets a key, ``metadata[key]=`` removes it and ``metadata=`` clears all;
    a scalar field takes the value (coerced to the field's JSON type, or, where the object holds
    null, to the type the parameter's description ``node`` gives: an ``application_fee_amount``
    is stored as the integer sent) and ``""`` unsets it; nested hashes are merged. Parameters the
    object has no field for change nothing.
    """
    listed = list(nodes)
    for name, value in params.items():
        if name == "expand":
            continue
        if name == "metadata":
            metadata = obj.get("metadata")
            if not isinstance(metadata, dict):
                metadata = obj["metadata"] = {}
            if value == "":
                metadata.clear()
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    if item == "":
                        metadata.pop(key, None)
                    elif isinstance(item, str):
                        metadata[key] = item
            continue
        if name not in obj:
            continue
        current = obj[name]
        sub = _child(node, name, listed)
        if isinstance(value, Mapping):
            if current is None:
                current = obj[name] = {}
            if isinstance(current, dict):
                _apply_form(current, value, sub, listed)
            continue
        if isinstance(value, list) or (isinstance(current, (dict, list)) and value != ""):
            continue
        obj[name] = _coerce(current, value, sub.get("t", ()) if sub else ())


def _coerce(current: Any, value: str, types: Any = ()) -> Any:
    if value == "":
        return None
    if current is None and isinstance(value, str):
        if "integer" in types and value.lstrip("-").isdigit():
            return int(value)
        if "boolean" in types and value in ("true", "false"):
            return value == "true"
        if "number" in types:
            try:
                return float(value)
            except ValueError:
                return value
    if isinstance(current, bool):
        return value == "true"
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            return value
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            return value
    return value
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            return value
    return value
