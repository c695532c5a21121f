"""Canonical example objects: Stripe's fixture values where they fit a set's schema, the rest generated.

Pure: the converted ``objects.json`` document and the fixtures go in, one example per object type
comes out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from connect_harness.spec.convert import ID_OF

__all__ = ["PLAN_BESIDE_PRICE", "PLAN_FROM_PRICE", "ExampleMaker", "id_prefixes", "plan_fields_of"]

# Id prefixes the fixtures get wrong for our purpose: a test-mode infix, a price id on a plan, a
# placeholder id. Objects whose ids are names (capability, coupon, report type) get no prefix.
_PREFIX_OVERRIDES: Final[Mapping[str, str | None]] = {
    "application": "ca_",
    "checkout.session": "cs_",
    "plan": "plan_",
    "line_item": "il_",
    "capability": None,
    "coupon": None,
    "reporting.report_type": None,
    # Types added after 2023 whose fixtures show a placeholder id; prefixes as Stripe's ids have them.
    "billing.meter": "mtr_",
    "billing.alert": "alrt_",
    "billing.credit_grant": "credgr_",
    "billing.credit_balance_transaction": "cbtxn_",
    "invoice_payment": "inpay_",
    # Climate products are identified by names (`climsku_...`).
    "climate.product": None,
}

# Fixture values that contradict the rest of their example (a payment intent still waiting for a
# payment method has not been canceled, failed or processed): rendered as null instead.
_NULL_IN_EXAMPLES: Final[Mapping[str, tuple[str, ...]]] = {
    "payment_intent": ("canceled_at", "last_payment_error", "processing", "shipping"),
}

# Fields no description has whose fixture value is filler, where Stripe's own types say the field
# may be null: rendered as null (as nullable hashes are). charge.source: stripe-node types it
# `source: CustomerSource | null` (Charges.d.ts); a charge made through a PaymentIntent carries its
# payment method in payment_method_details, not a source.
_NULL_WHEN_FILLER: Final[Mapping[str, frozenset[str]]] = {"charge": frozenset({"source"})}

# Objects on which Stripe renders the deprecated ``plan`` beside ``price``: the Plan view of the
# item's price (docs.stripe.com/billing/migration/migrating-prices: prices replace plans and are
# backwards compatible, a recurring price's plan has its id, ``amount`` is its ``unit_amount``,
# ``interval`` its ``recurring[interval]``, ...). No public description has the field; Stripe's
# fixtures show it on subscription items and schedule phase items (with filler values), and
# stripe-node types it on all four (``SubscriptionItem.plan: Plan``, ``Phase.Item.plan``, and
# until basil removed price from them, ``InvoiceLineItem.plan`` and ``InvoiceItem.plan``:
# ``Plan | null``, null for a one-time price). An object without ``price`` (a basil line item)
# gets no plan.
PLAN_BESIDE_PRICE: Final = frozenset(
    {"subscription_item", "subscription_schedule_configuration_item", "line_item", "invoiceitem"}
)

# A plan's fields from its price's (the migration guide's table, plus the fields both share).
PLAN_FROM_PRICE: Final[Mapping[str, tuple[str, ...]]] = {
    "active": ("active",),
    "aggregate_usage": ("recurring", "aggregate_usage"),
    "amount": ("unit_amount",),
    "amount_decimal": ("unit_amount_decimal",),
    "billing_scheme": ("billing_scheme",),
    "created": ("created",),
    "currency": ("currency",),
    "interval": ("recurring", "interval"),
    "interval_count": ("recurring", "interval_count"),
    "livemode": ("livemode",),
    "metadata": ("metadata",),
    "meter": ("recurring", "meter"),
    "nickname": ("nickname",),
    "product": ("product",),
    "tiers_mode": ("tiers_mode",),
    "transform_usage": ("transform_quantity",),
    "trial_period_days": ("recurring", "trial_period_days"),
    "usage_type": ("recurring", "usage_type"),
}

# Fixture keys an older description has and the later ones leave out, though Stripe still
# renders them: kept wherever a set's schema lacks them. A settings hash's Japanese statement
# descriptor prefixes: in Stripe's real 2023-08-16 description and its 2026 fixtures, and typed
# ``string | null`` on Account.Settings.Payments by every stripe npm release pinned since
# (18.0.0 for basil to 23.2.0), but not in the 2026-05-27 description the later sets come from.
_RENDERED_UNDESCRIBED: Final[Mapping[str, frozenset[str]]] = {
    "account_payments_settings": frozenset(
        {"statement_descriptor_prefix_kana", "statement_descriptor_prefix_kanji"}
    )
}

# Realistic values for string properties the fixtures do not cover, by property name.
_STRING_BY_NAME: Final[Mapping[str, str]] = {
    "currency": "usd",
    "default_currency": "usd",
    "country": "US",
    "email": "jenny.rosen@example.com",
    "name": "Jenny Rosen",
    "phone": "+15555550100",
    "last4": "4242",
    "city": "San Francisco",
    "line1": "510 Townsend St",
    "postal_code": "94103",
    "state": "CA",
    "url": "https://example.com",
    "description": "Example",
    "fingerprint": "Xt5EWLLDS7FJjR1c",
    "brand": "Visa",
    "client_secret": "secret_example_client_secret",
}


_MISSING: Final = object()
_PLACEHOLDER_ID: Final = "obj_123"


def plan_fields_of(price: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a recurring ``price``'s Plan view that its own fields give (its id, the
    ``object``, and :data:`PLAN_FROM_PRICE`'s fields the price has)."""
    mapped: dict[str, Any] = {"object": "plan"}
    if "id" in price:
        mapped["id"] = price["id"]
    for field, path in PLAN_FROM_PRICE.items():
        value: Any = price
        for part in path:
            value = value.get(part, _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is not _MISSING:
            mapped[field] = value
    return mapped


def _id_suffix(seed: str) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    return "1" + "".join(chars)


def _fixture_prefix(fixture_id: Any) -> str | None:
    if not isinstance(fixture_id, str):
        return None
    match = re.match(r"^((?:[a-z]+_)+)[A-Za-z0-9]{10,}$", fixture_id)
    return match.group(1) if match else None


def id_prefixes(spec_schemas: Mapping[str, Any], resources: Mapping[str, Any]) -> dict[str, str]:
    """The id prefix of every API resource whose fixture shows one (or that we know better)."""
    prefixes: dict[str, str] = {}
    for name in sorted(spec_schemas):
        schema = spec_schemas[name]
        if "id" not in schema.get("properties", {}):
            continue
        base = name.removeprefix("deleted_")
        if base in _PREFIX_OVERRIDES:
            override = _PREFIX_OVERRIDES[base]
            if override:
                prefixes[name] = override
            continue
        if "x-resourceId" not in schema:
            continue
        fixture = resources.get(name) or resources.get(base) or {}
        prefix = _fixture_prefix(fixture.get("id") if isinstance(fixture, Mapping) else None)
        if prefix:
            prefixes[name] = prefix
    return prefixes


def _stripe_order(properties: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Stripe renders `id` and `object` first, then the other keys alphabetically."""
    first = [(key, properties[key]) for key in ("id", "object") if key in properties]
    rest = sorted(key for key in properties if key not in ("id", "object"))
    return first + [(key, properties[key]) for key in rest]


def _placeholder(value: Any, key: str | None = None) -> bool:
    """Whether a fixture value is filler rather than data: ``{"type": "type"}``, ``"obj_123"``.

    Stripe's fixtures fill nullable hashes with such filler; a realistic object has null there.
    """
    if isinstance(value, dict):
        return any(_placeholder(sub, k) for k, sub in value.items())
    if isinstance(value, list):
        return any(_placeholder(sub) for sub in value)
    return isinstance(value, str) and value in (key, _PLACEHOLDER_ID)


def _json_type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if declared is None:
        return True
    types = declared if isinstance(declared, list) else [declared]
    checks = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return any(checks.get(kind, False) for kind in types)


def _allows_null(schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared):
        return True
    if None in schema.get("enum", ()):
        return True
    return any(branch == {"type": "null"} for branch in schema.get("anyOf", ()))


def _listed(schema: Mapping[str, Any]) -> list[Any] | None:
    """The values of a closed (``enum``) or open (``examples`` on a string) enum."""
    listed = schema.get("enum", schema.get("examples"))
    return list(listed) if isinstance(listed, list) and listed else None


class ExampleMaker:
    """Renders one canonical example per object type, guided by (drifted) fixtures."""

    def __init__(
        self,
        objects_doc: Mapping[str, Any],
        resources: Mapping[str, Any],
        prefixes: Mapping[str, str],
        *,
        example_time: int,
        described: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._defs: Mapping[str, Any] = objects_doc["$defs"]
        # Per schema name, every property any description of any version has: a fixture key
        # outside it is one Stripe renders but no public description describes (charge.source,
        # price.recurring.trial_period_days, which stripe-node types as always present).
        self._described = described
        self._resources = resources
        self._prefixes = prefixes
        self._time = example_time
        # Imported here, not at the top: the fake imports this module for its plan rule, and a run
        # that builds no examples (every run but `contracts build`) need not load jsonschema.
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resource = Resource.from_contents(objects_doc, default_specification=DRAFT202012)
        registry: Registry[Any] = Registry().with_resource(objects_doc["$id"], resource)
        self._root = Draft202012Validator(objects_doc, registry=registry)

    def example(self, name: str) -> Any:
        fixture = self._resources.get(name, _MISSING)
        if isinstance(fixture, dict) and name in _NULL_IN_EXAMPLES:
            fixture = {**fixture, **dict.fromkeys(_NULL_IN_EXAMPLES[name])}
        return self._object(self._defs[name], fixture, stack=(name,), def_name=name)

    def _is_valid(self, value: Any, schema: Mapping[str, Any]) -> bool:
        return bool(self._root.evolve(schema=schema).is_valid(value))

    def _value(
        self, name: str, schema: Mapping[str, Any], fixture: Any, stack: tuple[str, ...]
    ) -> Any:
        """A valid value for ``schema``; ``name`` is the property name, for realistic strings."""
        if "$ref" in schema:
            target = schema["$ref"].rsplit("/", 1)[1]
            if target in stack:
                return None
            return self._object(self._defs[target], fixture, (*stack, target), def_name=target)
        nullable = _allows_null(schema)
        if nullable and (fixture is None or fixture is _MISSING or _placeholder(fixture)):
            return None
        if ID_OF in schema and isinstance(fixture, dict):
            # The fixture shows the expanded object; webhooks carry its id.
            fixture = fixture.get("id", _MISSING)
        if "anyOf" in schema:
            real = [b for b in schema["anyOf"] if b != {"type": "null"}]
            for branch in real:
                if fixture is not _MISSING and self._plausible(fixture, branch):
                    return self._value(name, branch, fixture, stack)
            return self._value(name, real[0], _MISSING, stack)
        if fixture is not _MISSING and not _json_type_ok(fixture, schema):
            fixture = _MISSING
        listed = _listed(schema)
        if listed is not None:
            # An open enum (``examples``) accepts any string, but examples use listed values only.
            if fixture is not _MISSING and fixture in listed:
                return fixture
            return listed[0]
        declared = schema.get("type")
        types = declared if isinstance(declared, list) else [declared]
        if "object" in types:
            if "properties" in schema:
                return self._object(schema, fixture, stack)
            return self._free_object(schema, fixture, stack)
        if "array" in types:
            if not isinstance(fixture, list):
                return []
            items = schema.get("items", {})
            return [self._value(name, items, item, stack) for item in fixture]
        if fixture is not _MISSING and fixture != name and self._is_valid(fixture, schema):
            if ID_OF in schema and not self._names_id(fixture, schema[ID_OF]):
                return self._string(name, schema)
            return fixture
        if "string" in types:
            return self._string(name, schema)
        if "integer" in types:
            return self._time if schema.get("format") == "unix-time" else 0
        if "number" in types:
            return 0
        if "boolean" in types:
            return False
        return None

    def _names_id(self, value: Any, targets: Sequence[str]) -> bool:
        known = [self._prefixes[t] for t in targets if t in self._prefixes]
        return not known or (isinstance(value, str) and value.startswith(tuple(known)))

    def _free_object(self, schema: Mapping[str, Any], fixture: Any, stack: tuple[str, ...]) -> Any:
        if not isinstance(fixture, dict):
            return {}
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return {
                key: self._value(key, extra, value, stack)
                for key, value in fixture.items()
                if self._plausible(value, extra)
            }
        return {}

    def _object(
        self,
        schema: Mapping[str, Any],
        fixture: Any,
        stack: tuple[str, ...],
        def_name: str | None = None,
    ) -> Any:
        source: Mapping[str, Any] = fixture if isinstance(fixture, dict) else {}
        required = set(schema.get("required", ()))
        out: dict[str, Any] = {}
        for prop, sub in _stripe_order(schema.get("properties", {})):
            value = source.get(prop, _MISSING)
            if prop == "id" and def_name is not None and _json_type_ok("", sub):
                out[prop] = self._object_id(def_name, value)
            elif (
                prop in required
                or _allows_null(sub)
                or (value is not _MISSING and value is not None and self._plausible(value, sub))
            ):
                out[prop] = self._value(prop, sub, value, stack)
        if (
            def_name in PLAN_BESIDE_PRICE
            and "price" in out
            and "plan" not in out
            and "plan" in self._defs
        ):
            out = dict(_stripe_order({**out, "plan": self._plan_of(out["price"], stack)}))
        described = self._described.get(def_name) if self._described and def_name else None
        if described is None:
            return out
        # Filler (an expanded object of placeholders) says nothing of the real value: left out,
        # or null where Stripe's types say the field may be null.
        nullable = _NULL_WHEN_FILLER.get(def_name or "", frozenset())
        kept = _RENDERED_UNDESCRIBED.get(def_name or "", frozenset())
        extra = {
            key: None if _placeholder(value, key) else value
            for key, value in source.items()
            if (key not in described or key in kept)
            and key not in out
            and isinstance(key, str)
            and (key in nullable or not _placeholder(value, key))
        }
        if not extra:
            return out
        return dict(_stripe_order({**out, **extra}))

    def _plan_of(self, price: Any, stack: tuple[str, ...]) -> Any:
        """The Plan view of ``price``: its id where the price is an id, null for a one-time
        price, else the set's plan schema filled from the price's fields (same id)."""
        if not isinstance(price, Mapping):
            return price
        if not isinstance(price.get("recurring"), Mapping):
            return None
        mapped = plan_fields_of(price)
        plan = self._object(self._defs["plan"], mapped, (*stack, "plan"), def_name="plan")
        if isinstance(plan, dict) and "id" in plan:
            plan["id"] = price.get("id", plan["id"])
        return plan

    def prefix(self, object_type: str) -> str | None:
        """The id prefix of ``object_type``: known, else derived from its name; None for names."""
        prefix = self._prefixes.get(object_type)
        if prefix is None and object_type.removeprefix("deleted_") not in _PREFIX_OVERRIDES:
            # No fixture shows the prefix: derive one from the name, as Stripe mostly does, but
            # never one a known type uses (a reserve plan's id must not read as a billing plan's).
            prefix = object_type.rsplit(".", 1)[-1] + "_"
            if prefix in self._prefixes.values():
                prefix = object_type.replace(".", "_") + "_"
        return prefix

    def _object_id(self, def_name: str, fixture: Any) -> str:
        """The fixture's id if it has the type's prefix, else a made-up one that has."""
        prefix = self.prefix(def_name)
        if isinstance(fixture, str) and fixture.startswith(prefix or "") and fixture:
            return fixture
        if prefix is None:
            # Ids chosen by the user (coupons) or names (capabilities): a short code.
            return _id_suffix(def_name)[1:9].upper()
        return prefix + _id_suffix(def_name)

    def _plausible(self, value: Any, schema: Mapping[str, Any]) -> bool:
        """Whether ``value`` has the right shape to guide the rendering of ``schema``."""
        if ID_OF in schema and isinstance(value, dict):
            return isinstance(value.get("id"), str)
        if "$ref" in schema:
            return isinstance(value, dict)
        if "anyOf" in schema:
            return any(self._plausible(value, branch) for branch in schema["anyOf"])
        listed = _listed(schema)
        if listed is not None:
            return value in listed
        return _json_type_ok(value, schema)

    def _string(self, name: str, schema: Mapping[str, Any]) -> str:
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return pattern.lstrip("^").replace("[^/]+", "example")
        targets = schema.get(ID_OF, ())
        known = [target for target in targets if target in self._prefixes]
        for target in known or targets[:1]:
            return (self.prefix(target) or "") + _id_suffix(target)
        if name in _STRING_BY_NAME:
            return _STRING_BY_NAME[name]
        if name.endswith("_url"):
            return "https://example.com"
        if schema.get("format") == "decimal":
            return "0"
        return "example"
