"""The v2 side of the fake Stripe API: thin events and the v2 objects they name.

:class:`V2Objects` keeps what thin notifications made exist: each full event
(``GET /v2/core/events/{id}``) and each v2 related object at its ``url`` (``v2.core.account``,
``v2.core.account_person``, money-management objects), owned by the notification's ``context``
(None for the platform) in its mode. :meth:`V2Objects.answer` scopes every read the way Stripe
scopes ``Stripe-Context``, the same rules as ``Stripe-Account``: an object of a connected account is
found only when the request acts as that account, in the object's mode; otherwise the answer is a
404 in Stripe's v2 error shape (``{"error": {"type", "code", "message"}}``). The server calls it
for every ``/v2/`` path; v1 objects of ``v1.*`` notifications are registered with the v1 side.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from connect_harness.stripe_api.dispatch import Answer

__all__ = ["V2Answer", "V2Objects", "v2_error"]


class _ThinLike(Protocol):
    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def full_event(self) -> Mapping[str, Any]: ...


V2Answer = Answer


@dataclass(frozen=True)
class _Stored:
    object_type: str
    object_id: str
    owner: str | None
    #: None for objects that exist in both modes (accounts and their persons, as in v1).
    livemode: bool | None
    body: dict[str, Any]


def v2_error(status: int, code: str, message: str) -> V2Answer:
    """Stripe's v2 error shape."""
    return V2Answer(
        status, {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    )


class V2Objects:
    """Thin events and v2 objects by path, each owned by a context and a mode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[str, _Stored] = {}

    def reset(self) -> None:
        """Forget every event and object."""
        with self._lock:
            self._by_path.clear()

    def register(self, event: _ThinLike) -> None:
        """Make the full event and its v2 related object exist, owned by the event's context."""
        payload = event.payload
        owner = payload.get("context") or None
        livemode = bool(payload.get("livemode"))
        created = str(payload.get("created"))
        event_id = str(payload["id"])
        with self._lock:
            self._by_path[f"/v2/core/events/{event_id}"] = _Stored(
                "v2.core.event", event_id, owner, livemode, copy.deepcopy(dict(event.full_event))
            )
            related = payload.get("related_object")
            if not isinstance(related, Mapping) or not str(related.get("url", "")).startswith(
                "/v2/"
            ):
                return
            object_type = str(related.get("type"))
            object_id = str(related.get("id", ""))
            url = str(related["url"])
            closed = str(payload.get("type")) == "v2.core.account.closed"
            if url not in self._by_path or closed:
                body = _v2_object(object_type, object_id, url, livemode, created, closed=closed)
                both = object_type in ("v2.core.account", "v2.core.account_person")
                self._by_path[url] = _Stored(
                    object_type, object_id, owner, None if both else livemode, body
                )

    def answer(self, method: str, path: str, *, account: str | None, livemode: bool) -> V2Answer:
        """Answer a request to a ``/v2/`` path made as ``account`` (None: the platform) in a mode."""
        if method != "GET":
            return v2_error(
                404,
                "unrecognized_request_url",
                f"connect_harness's fake Stripe API serves v2 reads only, not {method} {path}",
            )
        with self._lock:
            stored = self._by_path.get(path)
        if stored is None:
            return v2_error(404, "resource_missing", f"No such object: {path}")
        found = V2Answer(
            200,
            copy.deepcopy(stored.body),
            object_id=stored.object_id,
            object_type=stored.object_type,
            object_owner=stored.owner,
            object_livemode=stored.livemode,
        )
        other_mode = stored.livemode is not None and stored.livemode != livemode
        if stored.owner != account or other_mode:
            where = f"connected account {stored.owner}" if stored.owner else "the platform"
            acting = f"Stripe-Context {account}" if account else "no Stripe-Context (the platform)"
            mode = (
                ""
                if stored.livemode is None
                else f" in {'live' if stored.livemode else 'test'} mode"
            )
            missing = v2_error(
                404,
                "resource_missing",
                f"No such {stored.object_type}: '{stored.object_id}' (it belongs to {where}{mode}; "
                f"the request used {acting} and a {'live' if livemode else 'test'} key)",
            )
            return V2Answer(
                missing.status,
                missing.body,
                object_id=stored.object_id,
                object_type=stored.object_type,
                object_owner=stored.owner,
                object_livemode=stored.livemode,
            )
        return found


def _v2_object(
    object_type: str, object_id: str, url: str, livemode: bool, created: str, *, closed: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": object_id, "object": object_type}
    if object_type == "v2.core.account":
        body.update(
            {
                "applied_configurations": ["merchant"],
                "closed": closed,
                "configuration": {"merchant": {"applied": True}},
                "contact_email": "jenny.rosen@example.com",
                "created": created,
                "dashboard": "express",
                "display_name": "Harness Test Account",
                "livemode": livemode,
                "metadata": {},
                "requirements": {"entries": [], "summary": {"minimum_deadline": None}},
            }
        )
    elif object_type == "v2.core.account_person":
        parts = url.split("/")
        body.update(
            {
                "account": parts[4] if len(parts) > 4 else None,
                "created": created,
                "given_name": "Jenny",
                "surname": "Rosen",
                "livemode": livemode,
                "metadata": {},
                "updated": created,
            }
        )
    else:
        body.update({"created": created, "livemode": livemode})
    return body
