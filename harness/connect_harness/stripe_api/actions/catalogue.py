"""The catalogue's own rule, for object types no handler of this package acts on: a create, update
or delete of an object whose type has a ``<event prefix>.created`` / ``.updated`` / ``.deleted``
event emits it, when that event's description in Stripe's API description says so in plain words
("Occurs whenever a new tax rate is created.", "Occurs when a payment link is updated.").

An event whose text adds a condition ("... created on a charge", "... is successfully created")
or names no such action is left out: only the object's own create, update or delete route is
read as the action the text names. An update that changes nothing emits nothing (each
``*.updated`` "occurs whenever" something changes). A type with a handler of its own keeps it:
this rule never adds to what a handler emits.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import NamedTuple

from connect_harness.errors import HarnessError
from connect_harness.spec import contracts
from connect_harness.stripe_api.actions import ActionContext, Handler, handler_for
from connect_harness.stripe_api.actions.rules import Obj, changes

__all__ = ["CatalogueRule", "catalogue_event", "catalogue_handler", "catalogue_rules"]

_PAST = {"create": "created", "update": "updated", "delete": "deleted"}

#: The plain "Occurs when(ever) a/an [new] <noun> is <created|updated|deleted>." text, nothing more.
_PLAIN = re.compile(
    r"^Occurs when(?:ever)? (?:an? )?(?:new )?[^.,;]+? is (created|updated|deleted)\.?$"
)


class CatalogueRule(NamedTuple):
    """A verb on an object type and the event the catalogue's text says it causes."""

    object_type: str
    verb: str
    event_type: str
    #: The event type's description in the newest contracts (its "Occurs when..." text).
    text: str


@functools.cache
def _events_by_object() -> dict[tuple[str, str], CatalogueRule]:
    found: dict[tuple[str, str], CatalogueRule] = {}
    for event_type in contracts.supported_event_types():
        past = event_type.rsplit(".", 1)[-1]
        if past not in _PAST.values():
            continue
        try:
            info = contracts.event_info(event_type)
        except HarnessError:  # pragma: no cover - every supported type has its info
            continue
        said = _PLAIN.match(info.description.strip())
        if said is None or said.group(1) != past or len(info.objects) != 1:
            continue
        verb = next(verb for verb, done in _PAST.items() if done == past)
        text = info.description.strip()
        found[(info.objects[0], verb)] = CatalogueRule(info.objects[0], verb, event_type, text)
    return found


def catalogue_rules() -> tuple[CatalogueRule, ...]:
    """The rules in force: those of object types and verbs no handler of this package acts on."""
    return tuple(
        rule for key, rule in sorted(_events_by_object().items()) if handler_for(*key) is None
    )


def catalogue_event(object_type: str, verb: str) -> str | None:
    """The event the catalogue's text says ``verb`` on ``object_type`` causes, or None."""
    rule = _events_by_object().get((object_type, verb))
    return None if rule is None else rule.event_type


def catalogue_handler(object_type: str, verb: str) -> Handler | None:
    """A handler that runs the dispatcher's own behaviour and emits :func:`catalogue_event`."""
    event_type = catalogue_event(object_type, verb)
    if event_type is None:
        return None

    def handler(ctx: ActionContext, obj: Obj | None) -> Obj:
        if obj is None:  # create
            created = ctx.generic()
            ctx.emit(event_type, created)
            return created
        before = copy.deepcopy(obj)
        answer = ctx.generic()
        if verb == "delete":
            ctx.emit(event_type, before)
            return answer
        previous = changes(before, answer)
        if previous:
            ctx.emit(event_type, answer, previous)
        return answer

    return handler
