"""The generated ``contracts/README.md``: what the contract sets are and how they are modelled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["contracts_readme"]


def contracts_readme(rows: Sequence[Mapping[str, Any]], *, base: str) -> str:
    """The text of ``contracts/README.md``: one row per set (version, spec, counts)."""
    table = "\n".join(
        f"| `{row['version']}` | `{row['spec']}` | {row['supported']} of {row['event_types']} "
        f"| {row['unsupported']} | {row['open_enums']} |"
        for row in rows
    )
    return _README_TEMPLATE.replace("{table}", table).replace("{base}", base)


_README_TEMPLATE: Final = """\
# Contracts (generated: do not edit by hand)

JSON Schema 2020-12 contracts for Stripe v1 webhook events, one set per Stripe API version, built
from Stripe's public OpenAPI descriptions. `connect_harness.spec.contracts` loads them at run time
(they ship inside the wheel as `connect_harness/contracts`); `connect_harness.spec.builder`
writes them.

| set (API version) | built from | event types covered | unsupported | open enums |
|---|---|---|---|---|
{table}

Every set uses the same catalogue of 275 event types (`event_catalogue.2026-10-28.json`, from
stripe-node 23.1.0), Stripe's fixtures (`fixtures3.2026-07-29.json`) and the open-enum list
(`open_enums.2026-10-28.json`). The newest set is the default everywhere; another API version
uses the set of its own major release, the newest set not newer than it (see the top-level
README and docs/versions.md). Files named `*.derived.json` are descriptions brought to their
version from the nearest real one with the drift of Stripe's SDK types (`../shared/stripe-spec`).

Within a major release Stripe only adds, so an event object that an older set of the same major
describes and a newer description leaves out is carried into the newer set (the manifest's
`carried_forward` says from where).

## Shared content

Neighbouring sets repeat most schemas, so what a newer set has identically is stored once, in
the newest set that has it: an object schema is left out of an older set's `objects.json`, whose
`x-shared-defs` lists it under its owner set; a file (event schema, example) equal to a newer
set's but for the set's own URI is left out, and the set's `manifest.json` lists it under
`shared_files`. `connect_harness.spec.contracts` puts both back when it loads a set
(`contract_text(version, path)` gives any file of a set as if stored in full).

## Rebuild

From the repository root, with Stripe's data files in `../shared/stripe-spec`:

    connect-harness contracts build --spec-dir ../shared/stripe-spec --out contracts

The build is deterministic and atomic (a temporary folder next to `contracts/` is swapped in).
A test rebuilds every set and compares the result with these files byte for byte.

## Layout

- `<version>/objects.json`: under `$defs`, every component schema reachable from an event's
  `data.object`, converted as described below. Its `$id` is `{base}<version>/objects.json`.
- `<version>/events/<type>.json`: one schema per supported event type: the event envelope, with
  `data.object` a `$ref` into `objects.json`.
- `<version>/examples/<object>.json`: one canonical example object per object type that events
  carry; each validates against its schema. Keys are in Stripe's rendering order: `id` and
  `object` first, then the rest alphabetically.
- `<version>/manifest.json`: the inputs (file names and versions); counts; per supported event
  type its objects, who receives it (`receivable_by`), its description, and the Connect-guide
  note and account types for the eight events the Connect webhook guide singles out; the
  unsupported types with the reason; the list of example object types; the id prefix of every
  API resource whose prefix is known (`acct_`, `pi_`...); the `required` entries dropped
  because Stripe's own fixtures leave them out (`relaxed_required`).
- `thin.json` (one for all versions): the thin-event catalogue, built from
  `openapi.v2.preview.2025-12-15.json` (its `x-stripeEvent: {kind: thin}` types and the routes of
  their related objects), the newest v1 description (the retrieve route of every v1 object) and the
  event catalogue (every v1 type as `v1.<type>`): per type its `related_object` (`type` and `url`
  template), an example `data`, whether the event has `changes`, and where the type came from.

Schemas refer to each other by relative `$ref` (`../objects.json#/$defs/account`), resolved
against their `$id`s (under the reserved domain `connect-harness.invalid`: nothing is fetched).
`connect-harness schema TYPE` prints a standalone copy instead: everything under `$defs`, no
`$id`, standard keywords only.

## From OpenAPI 3.0 to JSON Schema 2020-12

- `nullable: true` becomes a `null` type (`"type": ["string", "null"]`), a `null` enum value,
  or an `{"type": "null"}` branch of an `anyOf`.
- Expandable fields (`anyOf: [string, $ref...]` with `x-expansionResources`) keep only the
  string branch: webhook events render IDs, never expanded objects. Schemas reachable only
  through expansion are dropped. The string carries one annotation of ours, `x-id-of`: the
  object types the ID may name (`["customer"]`), so generators can pick the right prefix.
- `#/components/schemas/X` becomes `#/$defs/X`; `description` and Stripe's `x-*` vendor keys
  are dropped; `format` (`unix-time`, `decimal`) stays as an annotation.

## Open enums

Stripe adds enum values every month. Where Stripe's SDKs treat an enum as open (stripe-node
types it with `OtherString`), the contract drops `enum` and keeps the type, listing the known
values under the standard annotation `examples`:

    {"type": ["string", "null"], "examples": ["automatic", "manual"]}

Validation accepts any string there (and `null` only where the field is nullable); generators
(the canonical examples, `connect_harness.strategies`) draw only from `examples`. Closed enums
keep `enum`. A set gets every open path of the list that its own schemas have (the "open enums"
column counts them).

## What the contract enforces

Strict on types, lenient on presence. A property's type, closed enum and nullability are
enforced, and so is the presence of the properties the description lists as `required` (a list
that under-states what Stripe renders), except, in the sets of the fixtures' major release
(dahlia) and later, those Stripe's own fixtures leave out (listed in `relaxed_required`): an
older set keeps what was removed after it (`discount.coupon` at basil). Unknown properties are allowed everywhere
(`additionalProperties` is never `false`), because newer API versions add fields.

The envelope requires `id` (`evt_...`), `object` (`"event"`), `api_version` (string or null),
`created` (integer), `data.object`, `livemode` (boolean), `pending_webhooks` (integer >= 0),
`request` (`{"id", "idempotency_key"}`, each string or null; or null) and `type` (the event
type). `account` (`acct_...`) and `context` (string) are optional. `data.previous_attributes`
(an object) is allowed on every event and required on `*.updated` events. When `data.object`
may hold several object types (`account.external_account.*`, `customer.source.*`...), the
object's `object` value selects the schema.

## Supported event types

An event type is supported by a set when the catalogue lists at least one object schema for it
and every one of them is in that set's OpenAPI description. The others (objects Stripe added
after that API version) are in its `manifest.json` under `unsupported`, each with its reason.

## Who receives what (`receivable_by`): our model, not Stripe's word

- `connect` only: `account.application.*`, `account.external_account.*`, `account.updated`,
  `person.*`, `capability.updated`: events about the connected account itself.
- `account` only: `application_fee.*`, `transfer.*`, `climate.*`, `balance_settings.*`: the
  platform's own money movements and products.
- everything else: both; at the Connect endpoint (with `account`) when it happens on a
  connected account, at the account endpoint (without it) when it happens on the platform.

## Examples

Values come from Stripe's fixtures where they validate against the set's schema (keys a set
does not know are dropped, values it does not accept are replaced); the rest is generated from
the schema. Every `required` or nullable property is rendered (a nullable one as `null` when
the fixture has no value); a property that is neither is rendered only when the fixture has it,
as Stripe leaves out e.g. the per-type sub-hashes of a payment method. Expandable fields hold ID
strings with the referenced object's prefix. Generated timestamps are the set's API version
date, 00:00:00 UTC.
"""
