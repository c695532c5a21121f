"""Event bodies from templates: the indented JSON of one (type, permutation, version), cut at its slots.

Rendering an event the way Stripe does (2-space indented JSON) runs CPython's pure-Python encoder,
which costs more than everything else of building an event. But for one event type, object type,
account, mode, contract set and ``pending_webhooks``, two events differ only in their ids (which
derive from the seed, or from a given event id) and in ``created``. So the body is rendered once
through the full path, at a reference seed and a sentinel ``created``, and cut wherever one of those
values sits; later bodies are one ``str.join`` of the pieces and the new values.

Where each seed-dependent value comes from is known, not guessed: the event's own ids are given by
the caller, the object's id and every id inside it come from the object's
:class:`~connect_harness.events.world.Template` slots, a payout's destination from the world's
external account. A template is only made when every such value at the reference seed is distinct
from the others that vary differently; otherwise the key keeps the full path. Overrides, merges,
``ascii_only`` and drawn events never use a template (:func:`connect_harness.events.build.build_event`
decides), and a test compares both paths byte for byte over every type and permutation of every
contract set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from connect_harness.events import objects, world
from connect_harness.lifecycle import states

__all__ = [
    "FIRST_USE",
    "MAKE",
    "REFERENCE_SEED",
    "SENTINEL_CREATED",
    "BodyTemplate",
    "TemplateCache",
    "make_template",
]

#: The seed a template's reference body is built with.
REFERENCE_SEED = 0
#: The ``created`` of a reference body: a number no example carries, so every occurrence is a slot.
SENTINEL_CREATED = 7_390_451_862_037

# A source of a slot's text: ("given", index) for the caller's event-level values (event id, request
# id, idempotency key), ("root", 0) for the object's id, ("site", n) for the n-th slot of the object's
# world template, ("destination", 0) for a payout's destination, ("created", n) for the timestamp n
# seconds before the event's (the object's own ``created``, a state's times: lifecycle.states.OFFSETS),
# ("link", n) for the id of the n-th of lifecycle.states.link_types() that a state names.
_Source = tuple[str, int]


@dataclass(frozen=True)
class BodyTemplate:
    """The body of one event key as text pieces with slots between them."""

    pieces: tuple[str, ...]  # text, then alternately a slot and text
    slots: tuple[int, ...]  # per slot: the index of its source in ``sources``
    sources: tuple[_Source, ...]
    object_type: str
    account: str | None
    livemode: bool
    shapes: str

    def render(self, *, seed: int, created: int, given: tuple[str | None, ...]) -> bytes:
        """The body of the event of ``seed`` and ``created`` whose own ids are ``given``."""
        values = []
        for source in self.sources:
            kind = source[0]
            if kind == "given":
                values.append(str(given[source[1]]))
            elif kind == "created":
                values.append(str(states.before(created, source[1])))
            else:
                values.append(_value(source, self, seed=seed, created=created, given=given))
        out = [self.pieces[0]]
        for slot, text in zip(self.slots, self.pieces[1:], strict=True):
            out.append(values[slot])
            out.append(text)
        return "".join(out).encode("utf-8")


def _value(
    source: _Source,
    template: BodyTemplate,
    *,
    seed: int,
    created: int,
    given: tuple[str | None, ...],
) -> str:
    kind = source[0]
    if kind == "created":
        return str(states.before(created, source[1]))
    if kind == "given":
        return str(given[source[1]])
    account, livemode = template.account, template.livemode
    if kind == "link":
        linked = world.object_id(
            states.link_types()[source[1]], account=account, livemode=livemode, seed=seed
        )
        return "null" if linked is None else linked
    if kind == "root":
        found = world.object_id(template.object_type, account=account, livemode=livemode, seed=seed)
        return "null" if found is None else found  # a name (a capability's): no slot
    if kind == "destination":
        return objects.external_account_id(account, seed=seed, livemode=livemode)
    text = _object_template(template.object_type, template.shapes).slot_text(
        source[1], root_id=None, account=account, livemode=livemode, seed=seed
    )
    return text[1:-1] if text.startswith('"') else text


def _object_template(object_type: str, shapes: str) -> world.Template:
    return objects._template(object_type, shapes)


def make_template(
    reference: bytes,
    *,
    object_type: str,
    account: str | None,
    livemode: bool,
    shapes: str,
    given: tuple[str | None, ...],
    given_at: Callable[[int], tuple[str | None, ...]],
) -> BodyTemplate | None:
    """Cut ``reference`` (built at :data:`REFERENCE_SEED` and :data:`SENTINEL_CREATED`) at its slots.

    ``given`` are the event-level ids of the reference body; ``given_at(seed)`` gives them for another
    seed. None when two values that vary differently coincide at the reference seed (then the key
    keeps the full path).
    """
    shell = BodyTemplate((), (), (), object_type, account, livemode, shapes)
    candidates: list[_Source] = [("given", index) for index in range(len(given))]
    candidates += [("root", 0), ("destination", 0)] if object_type == "payout" else [("root", 0)]
    candidates += [("link", index) for index in range(len(states.link_types()))]
    slots = _object_template(object_type, shapes).slots
    candidates += [("site", index) for index in range(len(slots)) if slots[index][1] is not None]

    # The event-level ids of each probe seed, worked out once rather than once per candidate.
    ids_at = {REFERENCE_SEED: given, **{seed: given_at(seed) for seed in _PROBE_SEEDS}}

    def value(source: _Source, seed: int) -> str:
        return _value(source, shell, seed=seed, created=SENTINEL_CREATED, given=ids_at[seed])

    by_value: dict[str, _Source] = {}
    for source in candidates:
        if source[0] == "given" and given[source[1]] is None:
            continue
        old = value(source, REFERENCE_SEED)
        probes = [value(source, seed) for seed in _PROBE_SEEDS]
        if all(probe == old for probe in probes) or old == "null":
            continue  # not seed-dependent: part of the text
        known = by_value.get(old)
        if known is not None:
            if [value(known, seed) for seed in _PROBE_SEEDS] != probes:
                return None
            continue
        by_value[old] = source
    text = reference.decode("utf-8")
    markers = {str(states.before(SENTINEL_CREATED, n)): n for n in states.OFFSETS}
    olds = sorted(by_value, key=len, reverse=True)
    sources: list[_Source] = []
    index_of: dict[_Source, int] = {}
    pieces: list[str] = []
    slot_list: list[int] = []
    position = 0
    for start, found in _matches(text, [*markers, *olds]):
        offset = markers.get(found)
        source = ("created", offset) if offset is not None else by_value[found]
        if source not in index_of:
            index_of[source] = len(sources)
            sources.append(source)
        pieces.append(text[position:start])
        slot_list.append(index_of[source])
        position = start + len(found)
    pieces.append(text[position:])
    return BodyTemplate(
        tuple(pieces),
        tuple(slot_list),
        tuple(sources),
        object_type,
        account,
        livemode,
        shapes,
    )


#: The seeds besides :data:`REFERENCE_SEED` at which a value is probed for whether it varies.
_PROBE_SEEDS = (1, 2)


def _matches(text: str, needles: list[str]) -> list[tuple[int, str]]:
    """Where ``re.finditer`` of the alternation of ``needles`` (in that order) matches ``text``.

    The same matches, without compiling a pattern per template (which cost more than the rest of
    making one): the leftmost occurrence from where the last match ended, and at one position the
    first needle in order that occurs there.
    """
    if any(not needle for needle in needles):  # an empty alternative matches everywhere
        pattern = re.compile("|".join(map(re.escape, needles)))
        return [(match.start(), match.group(0)) for match in pattern.finditer(text)]
    first_at: dict[int, int] = {}  # position -> the earliest needle occurring there
    for order, needle in enumerate(needles):
        start = text.find(needle)
        while start >= 0:
            if start not in first_at:
                first_at[start] = order
            start = text.find(needle, start + 1)
    found: list[tuple[int, str]] = []
    end = 0
    for start in sorted(first_at):
        if start >= end:
            needle = needles[first_at[start]]
            found.append((start, needle))
            end = start + len(needle)
    return found


#: What :meth:`TemplateCache.lookup` answers on a key's first use: take the full path.
FIRST_USE = "first-use"
#: What it answers on the second: make the template (then :meth:`TemplateCache.store` it).
MAKE = "make"


class TemplateCache:
    """Templates by key, made on a key's second use so a one-off event pays nothing extra."""

    def __init__(self, limit: int = 4096) -> None:
        self._lock = threading.Lock()
        self._seen: set[Hashable] = set()
        self._templates: dict[Hashable, BodyTemplate | None] = {}
        self._limit = limit

    def lookup(self, key: Hashable) -> BodyTemplate | str | None:
        """The key's template; None: the key keeps the full path; or :data:`FIRST_USE` / :data:`MAKE`."""
        with self._lock:
            if key in self._templates:
                return self._templates[key]
            if key in self._seen:
                return MAKE
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen.add(key)
            return FIRST_USE

    def store(self, key: Hashable, template: BodyTemplate | None) -> None:
        """Remember the key's template (None: the key keeps the full path)."""
        with self._lock:
            if len(self._templates) >= self._limit:
                self._templates.clear()
            self._templates[key] = template

    def clear(self) -> None:
        """Forget every key (tests; a process that changed contract sets)."""
        with self._lock:
            self._seen.clear()
            self._templates.clear()
