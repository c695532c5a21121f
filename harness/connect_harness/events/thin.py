"""Thin event notifications (event destinations, Accounts v2): the small body and the full event.

A thin notification names what changed and leaves the handler to fetch it: ``id``, ``object``
(``"v2.core.event"``), ``type``, ``livemode``, ``created`` (ISO-8601, milliseconds, ``Z``),
``context`` (the connected account; absent for the platform) and ``related_object`` (``id``,
``type``, ``url``) where the type names one. The event's ``data`` and ``changes`` are not in the
notification: they come with the full event (``GET /v2/core/events/{id}``), which
:attr:`ThinEvent.full_event` holds for the fake API to serve.

:func:`build_thin_event` is pure: the same arguments always give the same bytes. A ``v1.<type>``
notification names the same object (same id) as the snapshot event :func:`build_event` builds for
``<type>`` with the same account, mode and seed, so the fake API serves one object for both.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_harness import arguments
from connect_harness.errors import UsageError
from connect_harness.events.build import (
    _ACCOUNT_ID,
    DEFAULT_CREATED,
    Event,
    build_event,
    render_body,
)
from connect_harness.events.ids import stripe_id
from connect_harness.spec import contracts

__all__ = [
    "ThinEvent",
    "build_thin_event",
    "iso_created",
    "thin_event_info",
    "thin_event_types",
    "thin_type_name",
]


@dataclass(frozen=True)
class ThinEvent:
    """One thin notification: the body Stripe sends and the full event the API returns for it."""

    type: str
    payload: dict[str, Any]
    body: bytes
    #: The v2 event ``GET /v2/core/events/{id}`` returns: the notification plus ``data``/``changes``.
    full_event: dict[str, Any]
    seed: int = 0
    #: For a ``v1.*`` notification: the snapshot event whose ``data.object`` is the related object.
    snapshot: Event | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        """The event id; deduplicate on this."""
        return str(self.payload["id"])

    @property
    def context(self) -> str | None:
        """The connected account (``acct_...``) the handler must fetch as; None for the platform."""
        value = self.payload.get("context")
        return str(value) if value is not None else None

    @property
    def account(self) -> str | None:
        """Same as :attr:`context` (what snapshot events call ``account``)."""
        return self.context

    @property
    def livemode(self) -> bool:
        """True for a live-mode notification."""
        return bool(self.payload["livemode"])

    @property
    def related_object(self) -> dict[str, Any] | None:
        """``{"id", "type", "url"}`` (no ``id`` for a singleton), or None."""
        related = self.payload.get("related_object")
        return dict(related) if isinstance(related, Mapping) else None

    @property
    def permutation(self) -> str:
        """A short, stable label: ``connect-test``, ``platform-live``..."""
        return f"{'connect' if self.context else 'platform'}-{'live' if self.livemode else 'test'}"


@functools.lru_cache(maxsize=1)
def _catalogue() -> Mapping[str, Any]:
    path = contracts.contracts_dir() / "thin.json"
    try:
        loaded: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise UsageError(
            f"the thin-event catalogue '{path}' is missing; rebuild the contracts with "
            "'connect-harness contracts build --spec-dir ../shared/stripe-spec --out contracts'"
        ) from err
    return loaded


def thin_event_types() -> tuple[str, ...]:
    """Every thin notification type: the ``v2.*`` types and every v1 type as ``v1.<type>``."""
    return tuple(_catalogue()["types"])


def thin_type_name(name: str) -> str:
    """The notification type for ``name``: ``v2.*``/``v1.*`` as given, a plain v1 type as ``v1.<type>``."""
    return name if name.startswith(("v1.", "v2.")) else f"v1.{name}"


def thin_event_info(event_type: str) -> Mapping[str, Any]:
    """The catalogue entry of a thin type; unknown types raise ``UsageError`` with the closest names."""
    types: Mapping[str, Any] = _catalogue()["types"]
    name = thin_type_name(event_type)
    if name not in types:
        close = difflib.get_close_matches(name, list(types), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(
            f"{event_type!r} is not a thin event type{hint} "
            "(`connect-harness events --thin` lists them)"
        )
    entry: Mapping[str, Any] = types[name]
    return entry


def iso_created(created: int) -> str:
    """``created`` as v2 renders it: ISO-8601 UTC with milliseconds (``2026-01-01T00:00:00.000Z``)."""
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _v2_id(prefix: str, livemode: bool, *parts: object) -> str:
    plain = stripe_id(prefix, *parts)
    return plain if livemode else plain.replace(f"{prefix}_", f"{prefix}_test_", 1)


def _test_id(event_id: str, livemode: bool) -> str:
    if livemode or event_id.startswith("evt_test_"):
        return event_id
    return event_id.replace("evt_", "evt_test_", 1)


def _prefix(object_type: str) -> str:
    last = object_type.rsplit(".", 1)[-1]
    known = {"account": "acct", "account_person": "person", "event_destination": "ed"}
    return known.get(last) or "".join(word[0] for word in last.split("_"))


def build_thin_event(
    event_type: str,
    *,
    account: str | None = None,
    livemode: bool = False,
    seed: int = 0,
    created: int | None = None,
    api_version: str | None = None,
    ascii_only: bool = False,
    id: str | None = None,
) -> ThinEvent:
    """Build the thin notification of ``event_type`` as an event destination would receive it.

    ``event_type`` is the SDKs' name (``v2.core.account.updated``, ``v1.account.updated``); a plain
    v1 type means its ``v1.`` notification. ``account`` sets ``context`` (a connected account's
    event); None is the platform's. ``api_version`` picks the snapshot shapes of a ``v1.*`` type's
    related object (what the fake API serves at its url). ``id`` fixes the event id (``evt_...``);
    in test mode it is written as Stripe writes v2 test ids (``evt_test_...``).
    """
    _check_thin_arguments(event_type, account, livemode, seed, created, ascii_only, id)
    name = thin_type_name(event_type)
    info = thin_event_info(name)
    if account is not None and not _ACCOUNT_ID.match(account):
        raise UsageError(
            f"account {account!r} is not a connected account id; "
            "pass one like 'acct_1PgafTB7WZ01zgkW' (or none for a platform event)"
        )
    created = DEFAULT_CREATED if created is None else created
    snapshot: Event | None = None
    related: dict[str, Any] | None = None
    spec_related = info["related_object"]
    if name.startswith("v1.") and info["related_object"] == "data.object":
        snapshot = build_event(
            str(info.get("snapshot_type", name[3:])),
            account=account,
            livemode=livemode,
            seed=seed,
            created=created,
            api_version=api_version,
        )
        related = _v1_related(snapshot)
    elif isinstance(spec_related, Mapping):
        related = _v2_related(spec_related, name, account, livemode, seed)

    payload: dict[str, Any] = {
        "id": _test_id(id, livemode)
        if id
        else _v2_id("evt", livemode, "thin", seed, name, account),
        "object": "v2.core.event",
        "type": name,
        "livemode": livemode,
        "created": iso_created(created),
    }
    if account is not None:
        payload["context"] = account
    if related is not None:
        payload["related_object"] = related
    full_event = dict(payload)
    data = info.get("data")
    full_event["data"] = _fill_data(data, account, related) if isinstance(data, Mapping) else {}
    if info.get("changes"):
        full_event["changes"] = {"before": {}, "after": {}}
    full_event["reason"] = None
    body = render_body(payload, ascii_only=ascii_only)
    return ThinEvent(
        type=name, payload=payload, body=body, full_event=full_event, seed=seed, snapshot=snapshot
    )


def _check_thin_arguments(
    event_type: object,
    account: object,
    livemode: object,
    seed: object,
    created: object,
    ascii_only: object,
    id: object,
) -> None:
    arguments.text("event_type", event_type, example="v2.core.account.updated")
    arguments.text("account", account, example="acct_1PgafTB7WZ01zgkW", optional=True)
    arguments.boolean("livemode", livemode)
    if not isinstance(seed, str):  # a string seed is hashed, as build_event's
        arguments.whole_number("seed", seed)
    arguments.whole_number("created", created, optional=True)
    arguments.boolean("ascii_only", ascii_only)
    arguments.text("id", id, example="evt_1Abc", optional=True)


def _v1_related(snapshot: Event) -> dict[str, Any] | None:
    routes: Mapping[str, Any] = _catalogue()["v1_objects"]
    obj: Mapping[str, Any] = snapshot.data_object
    object_type = snapshot.object_type
    route = routes.get(object_type)
    if route is None:
        # An object with no route of its own (billing.alert_triggered): the one it holds that has.
        held = [v for v in obj.values() if isinstance(v, Mapping) and v.get("object") in routes]
        if not held:
            return None
        obj, object_type = held[0], str(held[0]["object"])
        route = routes[object_type]
    url = str(route["url"])
    for key, value in obj.items():
        if isinstance(value, str) and "{" + key + "}" in url:
            url = url.replace("{" + key + "}", value)
    if "{" in url.replace("{id}", ""):
        return None
    if route.get("singleton"):
        return {"type": object_type, "url": url}
    object_id = obj.get("id")
    if not isinstance(object_id, str):
        return None
    return {"id": object_id, "type": object_type, "url": url.replace("{id}", object_id)}


def _v2_related(
    spec: Mapping[str, Any], name: str, account: str | None, livemode: bool, seed: int
) -> dict[str, Any]:
    object_type = str(spec["type"])
    owner = account or stripe_id("acct", "v2-platform-account", seed, livemode)
    if object_type == "v2.core.account":
        object_id = owner
    else:
        object_id = _v2_id(_prefix(object_type), livemode, "thin-related", seed, name, account)
    if spec.get("singleton"):
        return {"type": object_type, "url": str(spec["url"])}
    url = str(spec["url"]).replace("{account}", owner).replace("{id}", object_id)
    return {"id": object_id, "type": object_type, "url": url}


def _fill_data(
    data: Mapping[str, Any], account: str | None, related: Mapping[str, Any] | None
) -> dict[str, Any]:
    filled = json.loads(json.dumps(data))
    if "account_id" in filled and related is not None:
        url = str(related.get("url", ""))
        filled["account_id"] = account or (url.split("/")[4] if url.count("/") > 4 else url)
    return dict(filled)
