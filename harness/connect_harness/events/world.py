"""One consistent world per (seed, owner, mode): the id of every object an event carries or names.

Stripe's objects belong to one account (a connected account, or the platform) and one mode, and an
event's references (its customer, charge, ``latest_charge``, ``balance_transaction``...) belong to the
same account and mode as the event. So every id here derives from the seed, the owner and the mode:
no two permutations or seeds share an id, and an object named by several events of one run keeps
one id. The rule is that a reference to an object of type ``T`` gets the id ``T``'s own object gets
as an event's ``data.object`` for the same (seed, owner, livemode) (:func:`object_id`), so
``payment_intent.latest_charge`` equals the ``data.object.id`` of ``charge.succeeded``.

References are found from the contracts, never listed by hand: a string marked ``x-id-of`` in the
objects' schemas names an object of the listed types. Each object type's schema is compiled once into
a small tree that holds only the paths that lead to an id (cached), so rewriting an object visits
only those paths.

Exceptions, each with its reason:

* ``account`` references: in a Connect event they name the connected account itself (the owner); in
  a platform event they are null where the schema allows it, else (an application fee's ``account``,
  a transfer's ``destination``) name a connected account of the platform's own (:func:`counterpart`).
  Accounts exist in both modes, so their ids carry no mode.
* ``application`` references (``ca_...``) name the platform's Connect application: owned by the
  platform, whoever's event names it.
* Application fees, their refunds, transfers and transfer reversals are the platform's objects even
  when they name a connected account, and what *they* reference (the fee's charge, the transfer's
  destination payment) lives on that connected account. Who owns which side varies with the charge
  type, so these references get ids of their own (never an object of another event) and are not
  registered with an owner: the fake API serves them to whoever asks rather than blame a handler
  for a choice Stripe's documentation leaves open.
* An object in a list gets the rule's id when it is the first item, and an indexed one after, so two
  items of one list never share an id.
* Ids that are names (capabilities, report types) are kept; coupons, whose ids are user-chosen codes,
  get an 8-character code from the same inputs.
* Persons and external accounts exist in both modes on Stripe; their ids here still carry the mode,
  which keeps every permutation apart and costs nothing (the fake API serves them in both modes).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_harness.errors import UsageError
from connect_harness.events.ids import code_id, stripe_id
from connect_harness.spec import contracts

__all__ = [
    "Reference",
    "Template",
    "assign_ids",
    "counterpart",
    "described_types",
    "object_id",
    "references",
    "template",
]

#: Platform-side objects that name a connected account: see the module docstring.
CROSS_ACCOUNT_TYPES = frozenset({"application_fee", "fee_refund", "transfer", "transfer_reversal"})

# Ids that are names chosen by Stripe: kept as the example has them.
_NAMED_IDS = frozenset({"capability", "reporting.report_type"})


@dataclass(frozen=True)
class Reference:
    """An object an event names or embeds: its id, its type, and the account that owns it."""

    object_id: str
    object_type: str
    #: The connected account that owns it; None for the platform.
    owner: str | None


def counterpart(seed: int) -> str:
    """The connected account a platform object names where Stripe requires one (fee, transfer)."""
    return stripe_id("acct", seed, "counterpart")


@functools.cache
def _prefix(object_type: str) -> str | None:
    prefix = contracts.id_prefix(object_type)
    return prefix.rstrip("_") if prefix else None


def object_id(
    object_type: str, *, account: str | None, livemode: bool, seed: int, index: int = 0
) -> str | None:
    """The id of the ``object_type`` object owned by ``account`` (None: the platform) in a mode.

    None where ``object_type`` has no id of its own to derive (names such as capabilities).
    """
    owner = account or "platform"
    if object_type == "account":
        return (
            account if account is not None else stripe_id("acct", seed, "account", owner, livemode)
        )
    if object_type == "application":
        return stripe_id("ca", seed, "application", "platform", livemode)
    parts: tuple[object, ...] = (seed, object_type, owner, livemode)
    if index:
        parts = (*parts, index)
    prefix = _prefix(object_type)
    if prefix is not None:
        return stripe_id(prefix, *parts)
    if object_type == "coupon":
        return code_id(*parts)
    return None


# --- the compiled schemas ------------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    """Where ids sit inside one schema: only the branches that lead to one are kept."""

    ref: tuple[str, ...] | None = None  # an id string naming one of these types (x-id-of)
    nullable: bool = False
    def_name: str | None = None  # an object of this $defs type
    own_id: bool = False  # ... whose "id" is derived (not a name)
    object_value: str | None = None  # its "object" value, to pick the anyOf branch of a hash
    props: dict[str, _Node] | None = None
    values: _Node | None = None  # additionalProperties
    items: _Node | None = None
    alts: tuple[_Node, ...] = ()

    def children(self) -> Iterator[_Node]:
        yield from (self.props or {}).values()
        for child in (self.values, self.items):
            if child is not None:
                yield child
        yield from self.alts


class _Compiler:
    """Compiles ``$defs`` schemas into :class:`_Node` trees, one node per def (recursion-safe)."""

    def __init__(self, shapes: str) -> None:
        self.shapes = shapes  # the contract set the schemas come from
        self.defs: dict[str, _Node] = {}
        self.named: dict[str, None] = {}  # every type an x-id-of names, in the order met

    def definition(self, name: str) -> _Node:
        node = self.defs.get(name)
        if node is None:
            node = self.defs[name] = _Node(def_name=name)
            schema = contracts.object_schema(name, version=self.shapes)
            self._fill(node, schema)
            node.own_id = "id" in schema.get("properties", {}) and name not in _NAMED_IDS
        return node

    def compile(self, schema: Any) -> _Node:
        if not isinstance(schema, Mapping):
            return _Node()
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.definition(ref.rsplit("/", 1)[-1])
        node = _Node()
        self._fill(node, schema)
        return node

    def _fill(self, node: _Node, schema: Mapping[str, Any]) -> None:
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        node.nullable = "null" in kinds
        if "x-id-of" in schema:
            node.ref = tuple(schema["x-id-of"])
            self.named.update(dict.fromkeys(node.ref))
        branches = schema.get("anyOf")
        if isinstance(branches, list):
            real = [b for b in branches if b != {"type": "null"}]
            node.nullable = node.nullable or len(real) < len(branches)
            node.alts = tuple(self.compile(branch) for branch in real)
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            node.props = {key: self.compile(sub) for key, sub in properties.items()}
            marker = properties.get("object")
            enum = marker.get("enum") if isinstance(marker, Mapping) else None
            if isinstance(enum, list) and len(enum) == 1:
                node.object_value = str(enum[0])
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            node.values = self.compile(extra)
        if "items" in schema:
            node.items = self.compile(schema["items"])


def _prune(root: _Node) -> None:
    """Drop every branch that leads to no id (a fixpoint: the schemas are recursive)."""
    seen: dict[int, _Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(node.children())
    live = {key for key, node in seen.items() if node.ref is not None or node.own_id}
    changed = True
    while changed:
        changed = False
        for key, node in seen.items():
            if key not in live and any(id(child) in live for child in node.children()):
                live.add(key)
                changed = True
    for node in seen.values():
        if node.props is not None:
            node.props = {k: child for k, child in node.props.items() if id(child) in live}
        if node.values is not None and id(node.values) not in live:
            node.values = None
        if node.items is not None and id(node.items) not in live:
            node.items = None
        node.alts = tuple(alt for alt in node.alts if id(alt) in live)


def _shapes(version: str | None) -> str:
    return contracts.resolve_version(version).shapes


@functools.cache
def _compiler(shapes: str) -> _Compiler:
    return _Compiler(shapes)


def _plan(object_type: str, version: str | None = None) -> _Node:
    """The pruned tree of ``object_type`` in the shapes of ``version`` (default the newest set)."""
    return _shaped_plan(object_type, _shapes(version))


@functools.cache
def _shaped_plan(object_type: str, shapes: str) -> _Node:
    node = _compiler(shapes).definition(object_type)
    _prune(node)
    return node


def described_types(*, version: str | None = None) -> tuple[str, ...]:
    """Every object type an event carries or names that has a schema, event objects first."""
    return _described_types(_shapes(version))


@functools.cache
def _described_types(shapes: str) -> tuple[str, ...]:
    compiler = _compiler(shapes)
    for object_type in contracts.object_types(version=shapes):
        _shaped_plan(object_type, shapes)
    found = dict.fromkeys(contracts.object_types(version=shapes))
    for object_type in list(compiler.named):
        if _has_schema(object_type, shapes):
            found[object_type] = None
    for object_type, node in list(compiler.defs.items()):
        if node.own_id and _prefix(object_type) is not None:
            found[object_type] = None  # embedded objects with ids of their own (line items)
    return tuple(found)


@functools.cache
def _has_schema(object_type: str, shapes: str | None = None) -> bool:
    try:
        contracts.object_schema(object_type, version=shapes)
    except UsageError:
        return False
    return True


# --- walking an object ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    """One id inside an object: what it names and where, which is all its new id depends on."""

    object_type: str
    embedded: bool  # an embedded object's own id, else a reference
    index: int  # position in its list (0 outside lists)
    nullable: bool
    cross: bool  # inside a platform-side object that names another account
    unknown: str = ""  # an id of a type the contracts do not name (a token in a URL): itself


def _site_id(site: _Site, *, owner: str | None, livemode: bool, seed: int) -> str | None:
    """The id ``site`` holds in the world of (seed, owner, livemode); None: null (or kept)."""
    object_type = site.object_type
    if site.unknown:
        prefix = site.unknown.split("_", 1)[0]
        return stripe_id(prefix, seed, site.unknown, owner or "platform", livemode)
    if site.embedded:
        return object_id(object_type, account=owner, livemode=livemode, seed=seed, index=site.index)
    if object_type == "account":
        if owner is not None and not site.cross:
            return owner
        return None if site.nullable and not site.cross else counterpart(seed)
    if object_type == "application":
        return object_id("application", account=None, livemode=livemode, seed=seed)
    if _foreign(site, owner):
        other = counterpart(seed) if site.cross else f"platform-of-{owner}"
        return object_id(object_type, account=other, livemode=livemode, seed=seed)
    return object_id(object_type, account=owner, livemode=livemode, seed=seed, index=site.index)


def _foreign(site: _Site, owner: str | None) -> bool:
    return site.cross or (site.object_type in CROSS_ACCOUNT_TYPES and owner is not None)


@dataclass
class _Walk:
    seed: int
    owner: str | None
    livemode: bool
    rewrite: bool
    found: list[Reference] = field(default_factory=list)
    sites: list[tuple[str, _Site]] = field(default_factory=list)
    cross: bool = False  # inside a platform-side object that names another account

    def visit(self, value: str, site: _Site) -> str | None:
        new: str | None = value
        if self.rewrite:
            new = _site_id(site, owner=self.owner, livemode=self.livemode, seed=self.seed)
            if new is None and (site.embedded or site.object_type != "account"):
                new = value  # an id that is a name: kept
        self.sites.append((value, site))
        if new is None or _foreign(site, self.owner) or site.object_type == "application":
            return new
        if site.object_type == "account":
            self.found.append(Reference(new, "account", new))
        elif _prefix(site.object_type) is not None and _has_schema(site.object_type):
            self.found.append(Reference(new, site.object_type, self.owner))
        return new

    def reference(self, value: str, node: _Node, index: int) -> str | None:
        assert node.ref is not None
        site = _Site(_type_named(value, node.ref), False, index, node.nullable, self.cross)
        return self.visit(value, site)

    def embedded(self, obj: dict[str, Any], node: _Node, index: int) -> None:
        assert node.def_name is not None
        value = obj.get("id")
        if isinstance(value, str):
            new = self.visit(value, _Site(node.def_name, True, index, False, self.cross))
            if new is not None:
                obj["id"] = new


def _type_named(value: str, types: tuple[str, ...]) -> str:
    if len(types) == 1:
        return types[0]
    best: tuple[int, str] | None = None
    for object_type in types:
        prefix = _prefix(object_type)
        matches = prefix is not None and value.startswith(prefix + "_")
        if matches and prefix is not None and (best is None or len(prefix) > best[0]):
            best = (len(prefix), object_type)
    if best is not None:
        return best[1]
    return next((t for t in types if _prefix(t) is not None), types[0])


def _fits(value: Any, node: _Node) -> bool:
    if isinstance(value, str):
        return node.ref is not None
    if isinstance(value, dict):
        return node.props is not None and node.object_value in (None, value.get("object"))
    if isinstance(value, list):
        return node.items is not None
    return False


def _walk(value: Any, node: _Node, walk: _Walk, index: int, root: bool = False) -> Any:
    if node.alts:
        for alt in node.alts:
            if _fits(value, alt):
                return _walk(value, alt, walk, index)
        if node.props is None and node.items is None and node.ref is None:
            return value
    if isinstance(value, str):
        return walk.reference(value, node, index) if node.ref is not None else value
    if isinstance(value, list):
        items = node.items
        if items is not None:
            for position, item in enumerate(value):
                new = _walk(item, items, walk, position)
                if new is not item:
                    value[position] = new
        return value
    if not isinstance(value, dict):
        return value
    outer = walk.cross
    if node.def_name is not None:
        if not root and node.own_id:
            walk.embedded(value, node, index)
        if node.def_name in CROSS_ACCOUNT_TYPES:
            walk.cross = True
    for key, child in (node.props or {}).items():
        current = value.get(key)
        if current is None:
            continue
        new = _walk(current, child, walk, 0)
        if new is not current:
            value[key] = new
    if node.values is not None:
        for key, current in list(value.items()):
            if current is not None:
                new = _walk(current, node.values, walk, 0)
                if new is not current:
                    value[key] = new
    walk.cross = outer
    return value


def assign_ids(
    obj: dict[str, Any],
    object_type: str,
    *,
    account: str | None,
    livemode: bool,
    seed: int,
    version: str | None = None,
) -> list[Reference]:
    """Give every object ``obj`` names or embeds (not ``obj`` itself) its id in this world.

    Rewrites ``obj`` in place and returns what it references, as :func:`references` would.
    ``version`` picks the contract set whose schemas say where ids sit (default the newest).
    """
    walk = _Walk(seed, account, livemode, rewrite=True)
    _walk(obj, _plan(object_type, version), walk, 0, root=True)
    return walk.found


@dataclass(frozen=True)
class Template:
    """An example object as text, cut where ids sit, so a world's copy is one ``str.join`` away."""

    pieces: tuple[str, ...]  # text, then alternately an id slot and text
    slots: tuple[tuple[str | None, _Site | None, bool], ...]  # (old id, site, quoted)

    def render(self, *, root_id: str | None, account: str | None, livemode: bool, seed: int) -> str:
        """The text with every id replaced by its id in the world of (seed, account, livemode)."""
        out = [self.pieces[0]]
        for index, text in enumerate(self.pieces[1:]):
            out.append(
                self.slot_text(
                    index, root_id=root_id, account=account, livemode=livemode, seed=seed
                )
            )
            out.append(text)
        return "".join(out)

    def slot_text(
        self, index: int, *, root_id: str | None, account: str | None, livemode: bool, seed: int
    ) -> str:
        """The text of slot ``index`` in the world of (seed, account, livemode), quotes included."""
        old, site, quoted = self.slots[index]
        if site is None:
            new = root_id or old
        else:
            new = _site_id(site, owner=account, livemode=livemode, seed=seed)
        if new is None:
            if site is not None and site.object_type == "account" and quoted:
                return "null"
            if site is not None and site.object_type == "account":
                return counterpart(seed)
            return f'"{old}"' if quoted else str(old)
        return f'"{new}"' if quoted else new


def template(
    text: str, example: Mapping[str, Any], object_type: str, *, version: str | None = None
) -> Template:
    """Cut ``text`` (the JSON of ``example``, an ``object_type``) at every id the example carries.

    Ids are found by the contract walk; every occurrence of one is a slot, also inside other
    strings (a list's ``url``, a ``client_secret``) and where the schema does not mark it (a
    subscription item's ``subscription``), so the copy names nothing of the example's world.
    """
    walk = _Walk(0, None, False, rewrite=False)
    _walk(json.loads(text), _plan(object_type, version), walk, 0, root=True)
    sites: dict[str, _Site | None] = {}
    root = example.get("id")
    if isinstance(root, str) and root:
        sites[root] = None
    for old, site in walk.sites:
        if old and old not in sites:
            sites[old] = site
    for value in _strings(example):
        # Ids the schema does not mark (a subscription item's `subscription`, the parts of a URL):
        # the same account's, or of no type we know and then simply of this world.
        for token in _TOKEN_SEPARATORS.split(value):
            if token in sites or not _ID_SHAPE.match(token):
                continue
            named = _type_of_id(token)
            if named is not None:
                sites[token] = _Site(named, False, 0, False, False)
            else:
                sites[token] = _Site("", False, 0, False, False, unknown=token)
    if not sites:
        return Template((text,), ())
    olds = sorted(sites, key=len, reverse=True)
    alternatives = "|".join(f'"{re.escape(old)}"|{re.escape(old)}' for old in olds)
    pieces: list[str] = []
    slots: list[tuple[str | None, _Site | None, bool]] = []
    position = 0
    for match in re.finditer(alternatives, text):
        found = match.group(0)
        quoted = found.startswith('"')
        old = found.strip('"') if quoted else found
        pieces.append(text[position : match.start()])
        slots.append((old, sites[old], quoted))
        position = match.end()
    pieces.append(text[position:])
    return Template(tuple(pieces), tuple(slots))


# A prefix, then a tail of 6+ letters and digits with at least one digit or capital: an id, not a
# word such as "fee_refund".
_TOKEN_SEPARATORS = re.compile(r"[/?=&#:.,; ]")
_ID_SHAPE = re.compile(r"^[a-z][a-z_]*?_(?=[0-9A-Za-z]*[0-9A-Z])[0-9A-Za-z]{6,}$")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@functools.cache
def _types_by_prefix() -> dict[str, str]:
    table: dict[str, str] = {}
    for object_type in described_types():
        prefix = _prefix(object_type)
        if prefix is not None and object_type not in _NAMED_IDS:
            table.setdefault(prefix, object_type)
    return table


def _type_of_id(value: str) -> str | None:
    """The object type an id-shaped string names by its longest known prefix, if any."""
    if not _ID_SHAPE.match(value):
        return None
    found = [(len(p), t) for p, t in _types_by_prefix().items() if value.startswith(p + "_")]
    return max(found)[1] if found else None


def references(
    obj: Mapping[str, Any],
    object_type: str,
    *,
    account: str | None,
    livemode: bool,
    version: str | None = None,
) -> list[Reference]:
    """The objects ``obj`` (owned by ``account``, in a mode) names or embeds, with their owners.

    References to platform-side objects from a connected account's object, and everything inside
    an application fee or transfer, are left out: see the module docstring.
    """
    walk = _Walk(0, account, livemode, rewrite=False)
    _walk(obj, _plan(object_type, version), walk, 0, root=True)
    return walk.found
