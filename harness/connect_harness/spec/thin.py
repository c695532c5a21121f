"""The thin-event catalogue: every thin notification type, its related object and its ``data``.

:func:`build_thin_catalogue` is a pure function of Stripe's v2 description (the thin types marked
``x-stripeEvent: {kind: thin}``, the route that serves each related object), the v1 description (the
route that retrieves each v1 object a ``v1.*`` notification names) and the v1 event catalogue (every
v1 type is also sent as a thin ``v1.<type>`` notification). The contracts build writes its result as
``contracts/thin.json``; :mod:`connect_harness.events.thin` reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["SDK_ONLY_V2_TYPES", "THIN_FILE", "V2_SPEC_FILE", "build_thin_catalogue"]

#: The file the contracts build writes, at the top of ``contracts/``.
THIN_FILE: Final = "thin.json"
#: Stripe's v2 description (preview), in the spec folder.
V2_SPEC_FILE: Final = "openapi.v2.preview.2025-12-15.json"

#: v2 thin types stripe-python 16.1.0 has a notification class for that the 2025-12-15 preview
#: description does not list, with the object type each names (from the SDK's classes).
SDK_ONLY_V2_TYPES: Final[Mapping[str, str | None]] = {
    "v2.commerce.product_catalog.imports.failed": "v2.commerce.product_catalog_import",
    "v2.commerce.product_catalog.imports.processing": "v2.commerce.product_catalog_import",
    "v2.commerce.product_catalog.imports.succeeded": "v2.commerce.product_catalog_import",
    "v2.commerce.product_catalog.imports.succeeded_with_errors": (
        "v2.commerce.product_catalog_import"
    ),
    "v2.core.account[future_requirements].updated": "v2.core.account",
    "v2.money_management.outbound_payment.under_review": "v2.money_management.outbound_payment",
    "v2.money_management.payout_intent.canceled": "v2.money_management.payout_intent",
    "v2.money_management.payout_intent.created": "v2.money_management.payout_intent",
    "v2.money_management.payout_intent.pending": "v2.money_management.payout_intent",
    "v2.money_management.payout_intent.posted": "v2.money_management.payout_intent",
    "v2.money_management.payout_intent.processing": "v2.money_management.payout_intent",
    "v2.money_management.payout_intent.requires_action": "v2.money_management.payout_intent",
    "v2.money_management.payout_intent.updated": "v2.money_management.payout_intent",
    "v2.money_management.recipient_verification.created": (
        "v2.money_management.recipient_verification"
    ),
    "v2.money_management.recipient_verification.updated": (
        "v2.money_management.recipient_verification"
    ),
}

#: v1 types stripe-python 16.1.0 has thin notification classes for that are never sent as snapshot
#: events (so the v1 catalogue lacks them); each names the object of a sibling snapshot type.
SDK_ONLY_V1_TYPES: Final = (
    "v1.customer.discount.source_changed",
    *(
        f"v1.customer.subscription.{name}"
        for name in (
            "active",
            "cancel_at_changed",
            "default_payment_method_changed",
            "incomplete",
            "incomplete_expired",
            "item_added",
            "item_price_changed",
            "item_quantity_changed",
            "item_removed",
            "item_tax_rates_changed",
            "past_due",
            "trialing",
            "unpaid",
        )
    ),
    "v1.entitlements.active_entitlement_summary.entitlement_added",
    "v1.entitlements.active_entitlement_summary.entitlement_removed",
    *(
        f"v1.financial_connections.account.{what}_refresh_{outcome}"
        for what in (
            "balance",
            "inferred_balances",
            "ownership",
            "risk_intelligence",
            "transactions",
        )
        for outcome in ("failed", "succeeded")
    ),
    "v1.invoice.discount_added",
    "v1.invoice.discount_removed",
    "v1.invoice.line_item_added",
    "v1.invoice.line_item_pricing_changed",
    "v1.invoice.line_item_quantity_changed",
    "v1.invoice.line_item_removed",
    "v1.invoice_payment.canceled",
    "v1.invoice_payment.open",
    "v1.invoiceitem.amount_changed",
    "v1.invoiceitem.discount_added",
    "v1.invoiceitem.discount_removed",
    "v1.price.activated",
    "v1.price.deactivated",
    "v1.price.lookup_key_changed",
    "v1.price.tax_behavior_changed",
    "v1.product.activated",
    "v1.product.deactivated",
    "v1.product.default_price_changed",
    "v1.product.tax_code_changed",
    "v1.promotion_code.fully_redeemed",
    "v1.subscription_schedule.phase_added",
    "v1.subscription_schedule.phase_default_tax_rates_changed",
    "v1.subscription_schedule.phase_end_date_changed",
    "v1.subscription_schedule.phase_removed",
    "v1.subscription_schedule.phase_trial_end_changed",
)

#: Where an example needs a time (``date-time`` strings): the events' default instant.
_EXAMPLE_TIME: Final = "2026-01-01T00:00:00.000Z"
_PARAM: Final = re.compile(r"\{[^}]+\}")


def build_thin_catalogue(
    v2_spec: Mapping[str, Any],
    v1_spec: Mapping[str, Any],
    event_catalogue: Mapping[str, Any],
) -> dict[str, Any]:
    """The thin catalogue: ``types`` (every thin type, sorted) and ``v1_objects`` (v1 retrieve routes).

    Each type has ``related_object`` (``{"type", "url"}`` with ``{id}`` and, for account persons,
    ``{account}`` placeholders; ``singleton`` where the object has no id; null where the type names
    no object), ``data`` (an example of the type's ``data``, or null), ``changes`` (the description
    lists a ``changes`` diff), ``source`` (``v2-description``, ``sdk`` or ``v1-catalogue``).
    """
    schemas: Mapping[str, Any] = v2_spec["components"]["schemas"]
    routes = {**_retrieve_routes(v1_spec), **_retrieve_routes(v2_spec)}
    types: dict[str, Any] = {}
    for schema in schemas.values():
        marker = schema.get("x-stripeEvent") if isinstance(schema, Mapping) else None
        if not isinstance(marker, Mapping) or marker.get("kind") != "thin":
            continue
        props: Mapping[str, Any] = schema.get("properties", {})
        related_type = _related_type(props.get("related_object"))
        data_schema = props.get("data")
        data = _example(data_schema) if isinstance(data_schema, Mapping) else None
        types[str(marker["type"])] = {
            "changes": "changes" in props,
            "data": data if data else None,
            "related_object": _related(related_type, routes),
            "source": "v2-description",
        }
    for name, related_type in SDK_ONLY_V2_TYPES.items():
        if name not in types:
            types[name] = {
                "changes": False,
                "data": None,
                "related_object": _related(related_type, routes),
                "source": "sdk",
            }
    v1_objects = _retrieve_routes(v1_spec)
    for event_type in sorted(event_catalogue["events"]):
        name = f"v1.{event_type}"
        if name not in types:
            types[name] = {
                "changes": False,
                "data": None,
                "related_object": "data.object",
                "source": "v1-catalogue",
            }
    catalogued = event_catalogue["events"]
    for name in SDK_ONLY_V1_TYPES:
        sibling = _sibling(name[3:], catalogued)
        if name not in types and sibling is not None:
            types[name] = {
                "changes": False,
                "data": None,
                "related_object": "data.object",
                "snapshot_type": sibling,
                "source": "sdk",
            }
    return {
        "about": (
            "Thin event notification types: the v2 description's x-stripeEvent thin types, the v2 "
            "types stripe-python 16.1.0 knows beyond them, and every v1 event type as v1.<type>. "
            "A v1 type's related object is its snapshot's data.object (or, when that has no route, "
            "the object it holds that has one), at its route in v1_objects."
        ),
        "sources": {"v2": V2_SPEC_FILE, "v2_version": str(v2_spec["info"]["version"])},
        "types": dict(sorted(types.items())),
        "v1_objects": dict(sorted(v1_objects.items())),
    }


def _sibling(event_type: str, catalogued: Mapping[str, Any]) -> str | None:
    """The snapshot type whose object a thin-only v1 type names: ``<resource>.updated``, else any."""
    resource = event_type.rsplit(".", 1)[0]
    for suffix in ("updated", "created"):
        if f"{resource}.{suffix}" in catalogued:
            return f"{resource}.{suffix}"
    same = sorted(name for name in catalogued if name.rsplit(".", 1)[0] == resource)
    return same[0] if same else None


def dump_thin_catalogue(catalogue: Mapping[str, Any]) -> str:
    """The catalogue as the contracts build writes it (sorted keys, 2-space indent, newline)."""
    return json.dumps(catalogue, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _related_type(related: Any) -> str | None:
    if not isinstance(related, Mapping):
        return None
    enum = related.get("properties", {}).get("type", {}).get("enum")
    return str(enum[0]) if enum else None


def _related(related_type: str | None, routes: Mapping[str, Any]) -> dict[str, Any] | None:
    if related_type is None:
        return None
    route = routes.get(related_type)
    if route is None:
        # No route in the description (a type only the SDK knows): Stripe's plural path.
        head, _, last = related_type.rpartition(".")
        route = {"url": "/" + head.replace(".", "/") + f"/{last}s/{{id}}"}
    return {"type": related_type, **route}


def _retrieve_routes(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Object schema name -> the GET route that retrieves one.

    The route's last parameter becomes ``{id}``; an earlier one keeps its name (``{account}``,
    ``{customer}``, ``{fee}``): the object's field of that name fills it (v2 account persons:
    ``{account_id}`` becomes ``{account}``). A route ending in no parameter is a singleton's.
    """
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(spec.get("paths", {})):
        get = spec["paths"][path].get("get")
        if not isinstance(get, Mapping):
            continue
        schema = (
            get.get("responses", {})
            .get("200", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
        )
        name = _response_schema(schema)
        if name is None:
            continue
        params = _PARAM.findall(path)
        url = path.replace("{account_id}", "{account}")
        if params and path.endswith(params[-1]):
            entry: dict[str, Any] = {"url": url[: url.rindex("{")] + "{id}"}
        else:
            entry = {"url": url, "singleton": True}
        # A route by id wins over a singleton; the route with fewest parameters, then the first.
        current = found.get(name)
        if current is None or _rank(entry) < _rank(current):
            found[name] = entry
    return found


def _rank(entry: Mapping[str, Any]) -> tuple[bool, int]:
    return bool(entry.get("singleton")), str(entry["url"]).count("{")


def _response_schema(schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    refs = [schema.get("$ref")] + [
        b.get("$ref") for b in schema.get("anyOf", []) if isinstance(b, Mapping)
    ]
    names = [str(r).rsplit("/", 1)[-1] for r in refs if isinstance(r, str)]
    names = [n for n in names if not n.startswith("deleted_")]
    return names[0] if len(names) == 1 else None


def _example(schema: Mapping[str, Any]) -> Any:
    """The smallest value ``schema`` accepts with every required property present."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties", {})
        return {
            key: _example(props[key])
            for key in sorted(schema.get("required", []))
            if isinstance(props.get(key), Mapping)
        }
    if kind == "array":
        items = schema.get("items")
        return [_example(items)] if isinstance(items, Mapping) and schema.get("minItems") else []
    if kind == "integer":
        return 0
    if kind == "number":
        return 0
    if kind == "boolean":
        return False
    if kind == "string":
        return _EXAMPLE_TIME if schema.get("format") == "date-time" else "example"
    return None
