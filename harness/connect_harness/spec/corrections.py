"""Fields a derived description gives an object before Stripe rendered them there.

The descriptions of versions Stripe published none for are derived from the SDKs' types
(``../shared/stripe-spec/derive``). Where two objects share one component in the older real
description, the derived one can give both a field only one of them had at that version. Each
entry names the version, the owning schema and property whose component is shared, the field to
withhold there, and the source that dates the field for that owner. The shared component itself is
kept for its other users: the owner gets a copy without the field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final, NamedTuple


class Withheld(NamedTuple):
    version: str
    owner: str  # the schema whose property refers to the shared component
    prop: str
    field: str
    source: str


_TEMPLATE_SOURCE = (
    "stripe-node types rendering_options.template on Customer from 16.11.0 (2024-09-12) but on "
    "Checkout Sessions and Payment Links only from 18.4.0 (2025-07-30, its CHANGELOG); Stripe's "
    "2026 descriptions give those two their own invoice_setting_checkout_rendering_options"
)

WITHHELD: Final[tuple[Withheld, ...]] = (
    Withheld(
        "2024-09-30.acacia",
        "payment_pages_checkout_session_invoice_settings",
        "rendering_options",
        "template",
        _TEMPLATE_SOURCE,
    ),
    Withheld(
        "2024-09-30.acacia",
        "payment_links_resource_invoice_settings",
        "rendering_options",
        "template",
        _TEMPLATE_SOURCE,
    ),
)

_REF: Final = "#/components/schemas/"


def withhold(spec: Mapping[str, Any], version: str) -> Mapping[str, Any]:
    """``spec`` with each :data:`WITHHELD` field of ``version`` removed from its owner's copy."""
    entries = [entry for entry in WITHHELD if entry.version == version]
    if not entries:
        return spec
    schemas = dict(spec["components"]["schemas"])
    for entry in entries:
        owner = copy.deepcopy(schemas[entry.owner])
        node = owner["properties"][entry.prop]
        for branch in node.get("anyOf", [node]):
            ref = branch.get("$ref", "")
            if not ref.startswith(_REF):
                continue
            shared = ref[len(_REF) :]
            if shared.endswith(f"__{entry.owner}"):
                continue  # withheld already
            name = f"{shared}__{entry.owner}"
            own = schemas.get(name) or copy.deepcopy(schemas[shared])
            own.get("properties", {}).pop(entry.field, None)
            if entry.field in own.get("required", ()):
                own["required"] = [f for f in own["required"] if f != entry.field]
            schemas[name] = own
            branch["$ref"] = _REF + name
        schemas[entry.owner] = owner
    return {**spec, "components": {**spec["components"], "schemas": schemas}}
