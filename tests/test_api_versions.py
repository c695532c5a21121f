"""Which contract set describes an API version, and events built in that set's shapes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.errors import UsageError
from connect_harness.events.build import build_event, event_matrix
from connect_harness.events.objects import build_object
from connect_harness.settings import parse_api_version
from connect_harness.spec import contracts

REPO = Path(__file__).resolve().parents[1]
STRIPE_SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC") or REPO.parent / "shared" / "stripe-spec"
)
OLDEST, DAHLIA, NEWEST = "2023-08-16", "2026-05-27.dahlia", "2026-11-18.endive"
ENDIVE_OCT = "2026-10-28.endive"


BASIL, CLOVER = "2025-03-31.basil", "2025-09-30.clover"


@pytest.mark.parametrize(
    ("requested", "shapes", "stamp", "note"),
    [
        (None, NEWEST, NEWEST, None),
        (OLDEST, OLDEST, OLDEST, None),
        (DAHLIA, DAHLIA, DAHLIA, None),
        (BASIL, BASIL, BASIL, None),
        (ENDIVE_OCT, ENDIVE_OCT, ENDIVE_OCT, None),
        (NEWEST, NEWEST, NEWEST, None),
        (
            # stripe-python 14.2.0's version: the clover set, not 2023's shapes
            "2025-12-15.clover",
            CLOVER,
            "2025-12-15.clover",
            "API version 2025-12-15.clover: events use the shapes of 2025-09-30.clover (the set "
            "of the clover release, whose later versions only add fields), stamped "
            "2025-12-15.clover",
        ),
        (
            "2025-08-27.basil",
            BASIL,
            "2025-08-27.basil",
            "API version 2025-08-27.basil: events use the shapes of 2025-03-31.basil (the set of "
            "the basil release, whose later versions only add fields), stamped 2025-08-27.basil",
        ),
        (
            "2026-04-22.dahlia",
            "2026-03-25.dahlia",
            "2026-04-22.dahlia",
            "API version 2026-04-22.dahlia: events use the shapes of 2026-03-25.dahlia (the set "
            "of the dahlia release, whose later versions only add fields), stamped "
            "2026-04-22.dahlia",
        ),
        (
            "2024-06-20",
            OLDEST,
            "2024-06-20",
            "API version 2024-06-20: events use the shapes of 2023-08-16 (the newest contract set "
            "not newer than 2024-06-20), stamped 2024-06-20",
        ),
        (
            "2026-05-27",
            DAHLIA,
            "2026-05-27",
            "API version 2026-05-27: events use the shapes of 2026-05-27.dahlia (the set of the "
            "dahlia release, whose later versions only add fields), stamped 2026-05-27",
        ),
        (
            "2026-12-16.endive",
            NEWEST,
            "2026-12-16.endive",
            "API version 2026-12-16.endive: events use the shapes of 2026-11-18.endive (the set "
            "of the endive release: 2026-12-16.endive is newer than 2026-11-18.endive, the newest "
            "version this connect-harness knows, and a release only adds fields), stamped "
            "2026-12-16.endive",
        ),
        (
            "2020-08-27",
            OLDEST,
            "2020-08-27",
            "API version 2020-08-27: events use the shapes of 2023-08-16 (the oldest contract "
            "set: 2020-08-27 is older than every set), stamped 2020-08-27",
        ),
    ],
)
def test_resolve_version(requested: str | None, shapes: str, stamp: str, note: str | None) -> None:
    choice = contracts.resolve_version(requested)
    assert (choice.shapes, choice.stamp, choice.note) == (shapes, stamp, note)


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        (
            "2025-03-15.basil",
            "API version 2025-03-15.basil is not one Stripe released; the nearest are "
            "2025-02-24.acacia and 2025-03-31.basil: give the version your endpoint is pinned to "
            "(its Stripe dashboard or SDK names it)",
        ),
        (
            "2024-05-01",
            "API version 2024-05-01 is not one Stripe released; the nearest are 2024-04-10 and "
            "2024-06-20: give the version your endpoint is pinned to (its Stripe dashboard or SDK "
            "names it)",
        ),
        (
            # a real date of another release: clover's versions are not basil's
            "2025-12-15.basil",
            "API version 2025-12-15.basil is not one Stripe released; the nearest are "
            "2025-11-17.clover and 2026-01-28.clover: give the version your endpoint is pinned to "
            "(its Stripe dashboard or SDK names it)",
        ),
        (
            "2027-01-01.fig",
            "API version 2027-01-01.fig is newer than every Stripe API version this "
            "connect-harness knows (the newest is 2026-11-18.endive); if Stripe has released it, "
            "upgrade connect-harness or, in a checkout, run `python scripts/add_version.py "
            "2027-01-01.fig`; else give 2026-11-18.endive",
        ),
    ],
)
def test_resolve_version_refuses_a_version_stripe_never_released(
    requested: str, message: str
) -> None:
    with pytest.raises(UsageError) as excinfo:
        contracts.resolve_version(requested)
    assert str(excinfo.value) == message


def test_every_release_since_2023_gets_the_set_of_its_own_major() -> None:
    from connect_harness.spec.versions import RELEASED, major_of

    since = [name for name in RELEASED if name >= OLDEST]
    assert len(since) == 31  # 2023-08-16 to 2026-11-18, as the issue counted them
    for name in since:
        shapes = contracts.resolve_version(name).shapes
        assert shapes[:10] <= name[:10]
        assert major_of(shapes) == major_of(name), name


@pytest.mark.parametrize("bad", ["", "latest", "2024-6-20", "2024-06-20.Basil", "2024-13-01", "x"])
def test_resolve_version_refuses_a_malformed_version(bad: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        contracts.resolve_version(bad)
    assert str(excinfo.value) == (
        f"API version {bad!r} is not a Stripe API version; give one like 2024-06-20 or "
        "2026-10-28.endive"
    )


def test_settings_parse_api_version_refuses_impossible_dates() -> None:
    import argparse

    assert parse_api_version(" 2024-06-20 ") == "2024-06-20"
    with pytest.raises(argparse.ArgumentTypeError, match="'2024-02-30' is not a Stripe API"):
        parse_api_version("2024-02-30")


def test_every_public_function_takes_a_version() -> None:
    assert contracts.object_types(version=OLDEST) != contracts.object_types()
    assert "reserve.hold" in contracts.object_types()
    assert "reserve.hold" not in contracts.object_types(version="2024-04-10")
    old = contracts.object_schema("invoice", version=OLDEST)["properties"]
    new = contracts.object_schema("invoice")["properties"]
    assert "subscription" in old and "subscription" not in new and "parent" in new
    assert contracts.event_schema("invoice.paid", version=OLDEST)["$id"].endswith(
        "/2023-08-16/events/invoice.paid.json"
    )
    assert contracts.event_info("invoice.paid", version=DAHLIA).objects == ("invoice",)
    assert contracts.id_prefix("invoice", version=OLDEST) == contracts.id_prefix("invoice")
    example = contracts.object_example("invoice", version=OLDEST)
    assert contracts.validate_object("invoice", example, version=OLDEST) == []
    assert "subscription" in example


def _invoice_object(version: str | None) -> dict[str, Any]:
    return build_event("invoice.paid", account="acct_1Versions", api_version=version).data_object


def test_invoice_event_has_todays_shape_by_default_and_2023s_at_2023() -> None:
    today = _invoice_object(None)
    assert "parent" in today and "subscription" not in today
    assert "paid" not in today and "amount_paid" in today
    old = _invoice_object(OLDEST)
    assert "subscription" in old and "parent" not in old
    assert "paid" in old


def test_subscription_lost_current_period_at_the_newest_version() -> None:
    new = build_object("subscription")
    old = build_object("subscription", version=OLDEST)
    assert "current_period_end" in old and "current_period_end" not in new


def test_build_event_stamps_the_requested_version_and_uses_the_stand_in_shapes() -> None:
    event = build_event("invoice.paid", api_version="2024-06-20")
    assert event.payload["api_version"] == "2024-06-20"
    assert "subscription" in event.data_object
    assert contracts.validate_event(event.payload) == []
    assert build_event("invoice.paid").payload["api_version"] == NEWEST


def test_build_event_refuses_a_type_its_version_lacks() -> None:
    with pytest.raises(
        UsageError, match=r"'reserve\.hold\.created' has no contract at API version"
    ):
        build_event("reserve.hold.created", api_version="2024-06-20")
    assert build_event("reserve.hold.created").data_object["object"] == "reserve.hold"


def test_event_matrix_lists_the_types_of_the_version() -> None:
    assert len({case.type for case in event_matrix(api_version=OLDEST)}) == 232
    assert len({case.type for case in event_matrix()}) == 275


def test_validate_event_picks_the_set_from_the_events_own_api_version() -> None:
    old = build_event("invoice.paid", api_version=OLDEST).payload
    assert contracts.validate_event(old) == []
    restamped = {**old, "api_version": NEWEST}
    problems = contracts.validate_event(restamped)
    assert problems and all(line.startswith("$.data.object") for line in problems)
    assert contracts.validate_event(restamped, version=OLDEST) == []
    assert contracts.validate_event({**old, "api_version": None}) == problems
    assert contracts.validate_event({**old, "api_version": "2023-02-30"}) == problems
    # a version Stripe never released still dates the payload: the newest set not newer judges it
    assert contracts.validate_event({**old, "api_version": "2024-05-01"}) == []


def _pinned_stripe_node() -> str | None:
    api_version = REPO / "tests" / "node" / "node_modules" / "stripe" / "cjs" / "apiVersion.js"
    if not api_version.is_file():
        return None
    found = re.search(r"ApiVersion = '([^']+)'", api_version.read_text(encoding="utf-8"))
    return found[1] if found else None


def _guard(sdk: str, pinned: str) -> None:
    # An SDK bump that moves its API version past what we know, or into a release without a set,
    # must come with a new set: `python scripts/add_version.py VERSION` (docs/versions.md).
    from connect_harness.spec.versions import RELEASED

    assert pinned in RELEASED, (
        f"{sdk} is pinned at API {pinned}, a version connect_harness.spec.versions does not list: "
        f"run `python scripts/add_version.py {pinned}` (docs/versions.md)"
    )
    choice = contracts.resolve_version(pinned)  # raises when its release has no set
    assert choice.shapes[:10] <= pinned[:10]


def test_the_pinned_stripe_python_has_a_contract_set_of_its_release() -> None:
    _guard("stripe-python", str(stripe.api_version))


def test_the_pinned_stripe_node_has_a_contract_set_of_its_release() -> None:
    pinned = _pinned_stripe_node()
    if pinned is None:
        pytest.skip("the stripe npm package is not installed (npm ci --prefix tests/node)")
    _guard("stripe-node", pinned)


def test_the_guard_refuses_an_sdk_pinned_past_what_we_know() -> None:
    with pytest.raises(
        AssertionError, match=re.escape("run `python scripts/add_version.py 2027-01-27.fig`")
    ):
        _guard("stripe-node", "2027-01-27.fig")


# --- Stripe's own fixtures against the 2026 sets ------------------------------------------------


def _collapse(defs: dict[str, Any], schema: Any, value: Any, depth: int = 0) -> Any:
    """Stripe's fixtures show some references expanded; webhooks render their ids: collapse them."""
    if depth > 40 or not isinstance(schema, dict):
        return value
    if "$ref" in schema:
        return _collapse(defs, defs[schema["$ref"].rsplit("/", 1)[1]], value, depth + 1)
    if "x-id-of" in schema and isinstance(value, dict) and "id" in value:
        return value["id"]
    for branch in schema.get("anyOf", ()):
        if branch != {"type": "null"}:
            value = _collapse(defs, branch, value, depth + 1)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {
            key: _collapse(defs, properties[key], item, depth + 1) if key in properties else item
            for key, item in value.items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_collapse(defs, schema["items"], item, depth + 1) for item in value]
    return value


def _fixture_results(version: str) -> tuple[list[str], dict[str, list[str]]]:
    fixtures = json.loads((STRIPE_SPEC / "fixtures3.2026-07-29.json").read_text(encoding="utf-8"))
    catalogue = json.loads(
        (STRIPE_SPEC / "event_catalogue.2026-10-28.json").read_text(encoding="utf-8")
    )
    event_objects = {name for entry in catalogue["events"].values() for name in entry["objects"]}
    objects = json.loads(contracts.contract_text(version, "objects.json"))
    described = set(contracts.object_types(version=version))
    valid, invalid = [], {}
    for name in sorted(event_objects & set(fixtures["resources"])):
        if name not in described:
            invalid[name] = ["no schema at this version"]
            continue
        fixture = _collapse(objects["$defs"], objects["$defs"][name], fixtures["resources"][name])
        problems = contracts.validate_object(name, fixture, version=version)
        if problems:
            invalid[name] = problems
        else:
            valid.append(name)
    return valid, invalid


@pytest.mark.skipif(not STRIPE_SPEC.is_dir(), reason=f"Stripe's data is not at {STRIPE_SPEC}")
@pytest.mark.parametrize(("version", "at_least"), [(NEWEST, 76), (DAHLIA, 81)])
def test_stripes_fixtures_of_event_objects_validate_against_the_2026_sets(
    version: str, at_least: int
) -> None:
    valid, invalid = _fixture_results(version)
    # 82 = the data.object types of the 275 event types (84) that fixtures3 has an example of.
    assert len(valid) + len(invalid) == 82
    # The issue asks for at least 75 of 82; the README reports the figures measured here.
    assert len(valid) >= at_least >= 75, invalid


# --- the pytest plugin's --connect-api-version / CONNECT_HARNESS_API_VERSION / connect_api_version ---

PLUGIN_TEST = """
import pytest

def test_shapes(connect_events, connect_settings):
    event = connect_events("invoice.paid", account="acct_1PluginVersion")
    with open("seen.txt", "w") as out:
        out.write(f"{event.payload['api_version']} {'subscription' in event.data_object} "
                  f"{'parent' in event.data_object}")

@pytest.mark.connect_matrix(endpoint_type="connect", mode="development")
def test_matrix(connect_event):
    pass
"""


@pytest.mark.parametrize("source", ["option", "env", "ini", "none"])
def test_plugin_api_version_picks_the_shapes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    pytester.makepyfile(test_versions=PLUGIN_TEST)
    args = ["-p", "connect_harness", "-p", "no:cacheprovider"]
    if source == "option":
        args += ["--connect-api-version", "2024-06-20"]
    elif source == "env":
        monkeypatch.setenv("CONNECT_HARNESS_API_VERSION", "2024-06-20")
    elif source == "ini":
        pytester.makeini("[pytest]\nconnect_api_version = 2024-06-20\n")
    result = pytester.runpytest(*args)
    seen = (pytester.path / "seen.txt").read_text()
    if source == "none":
        result.assert_outcomes(passed=1 + 275)
        assert seen == f"{NEWEST} False True"
        assert not any("shapes of" in line for line in result.outlines)
        return
    result.assert_outcomes(passed=1 + 232)
    assert seen == "2024-06-20 True False"
    where = {"option": "--connect-api-version", "env": "env", "ini": "ini"}[source]
    header = next(line for line in result.outlines if "api_version=2024-06-20" in line)
    assert where in header
    assert (
        "connect_harness: API version 2024-06-20: events use the shapes of 2023-08-16 (the newest "
        "contract set not newer than 2024-06-20), stamped 2024-06-20"
    ) in result.outlines


def test_plugin_refuses_a_malformed_api_version(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-p", "connect_harness", "--connect-api-version", "2024-02-30")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "API version '2024-02-30' is not a Stripe API version" in result.stderr.str()


def test_verify_with_api_version_notes_the_shapes_and_sends_that_sets_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connect_harness.cli import main
    from endpoints.core import TEST_SECRET

    report = tmp_path / "report.json"
    argv = [
        "verify", "--app", "endpoints.flask_endpoint:create_app()", "--secret", TEST_SECRET,
        "--api-version", "2024-06-20", "--check", "accepts-valid-events", "--seed", "3",
        "--report", str(report),
    ]  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == (
        "connect-harness: note: API version 2024-06-20: events use the shapes of 2023-08-16 (the "
        "newest contract set not newer than 2024-06-20), stamped 2024-06-20\n"
    )
    assert "| 232 event types |" in out.splitlines()[0]
    assert json.loads(report.read_text())["summary"]["api_version"] == "2024-06-20"
    argv[argv.index("2024-06-20")] = NEWEST
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == "" and "| 275 event types |" in out.splitlines()[0]


def _pinned_cell(shapes: str) -> str:
    from connect_harness.spec.versions import RELEASED

    pinned = [name for name in RELEASED if contracts.resolve_version(name).shapes == shapes]
    if len(pinned) == 1:
        return f"`{pinned[0]}` (1 version)"
    return f"`{pinned[0]}` to `{pinned[-1]}` ({len(pinned)} versions)"


def test_readme_version_table_and_fixture_figures_match_the_contracts() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### API versions", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    expected = []
    for version in reversed(contracts.contract_versions()):
        covered = len(contracts.supported_event_types(version=version))
        spec = json.loads((REPO / "contracts" / version / "manifest.json").read_text())["source"][
            "spec"
        ]
        source = "derived" if ".derived." in spec else "real"
        default = " (default)" if version == NEWEST else ""
        expected.append(
            f"| `{version}`{default} | {source}: `{spec}` | {covered} of 275 | "
            f"{_pinned_cell(version)} |"
        )
    assert rows[: len(expected)] == expected
    relaxed = json.loads(
        (REPO / "contracts" / NEWEST / "manifest.json").read_text(encoding="utf-8")
    )["relaxed_required"]
    flat = " ".join(section.split())
    assert f"{len(relaxed)} property at {NEWEST}" in flat and relaxed == [
        "invoice.amount_paid_off_stripe"
    ]
    assert f"76 of the 82 validate against the {NEWEST} set" in flat
    if STRIPE_SPEC.is_dir():
        newest_valid, newest_invalid = _fixture_results(NEWEST)
        assert len(newest_valid) == 76 and len(newest_invalid) == 6
    valid, invalid = _fixture_results(DAHLIA) if STRIPE_SPEC.is_dir() else ([], {})
    if STRIPE_SPEC.is_dir():
        assert len(valid) == 81 and list(invalid.values()) == [["no schema at this version"]]
    assert "all 81 that 2026-05-27.dahlia describes validate against it" in flat
    assert len(contracts.object_types(version=DAHLIA)) == 81
    note = contracts.resolve_version("2024-06-20").note
    assert f"connect-harness: note: {note}\n" in section
    for claim in ("2025-12-15.clover", "2025-03-15.basil", "2026-12-16.endive"):
        assert f"`{claim}`" in flat
    assert contracts.resolve_version("2025-12-15.clover").shapes == "2025-09-30.clover"
    with pytest.raises(UsageError, match="is not one Stripe released"):
        contracts.resolve_version("2025-03-15.basil")
    assert contracts.resolve_version("2026-12-16.endive").shapes == NEWEST


def test_the_fake_api_knows_what_an_older_versions_event_references() -> None:
    from connect_harness.stripe_api.fake import FakeStripeAPI

    # `invoice.subscription` exists only in the 2023 shapes: the 2023 schemas must find it.
    subscription = "sub_1OldShapesSubscription0"
    event = build_event(
        "invoice.paid",
        account="acct_1OldShapes",
        api_version="2024-06-20",
        overrides={"data.object.subscription": subscription},
    )
    fake = FakeStripeAPI()
    fake.register_event(event)
    known = fake.current_object(subscription)
    assert known is not None and known["object"] == "subscription"
    newer = FakeStripeAPI()
    newer.register_event(
        build_event("invoice.paid", account="acct_1OldShapes", merge={"data": {"object": {
            "subscription": subscription}}})
    )  # fmt: skip
    assert newer.current_object(subscription) is None  # not a field of today's invoice


# --- what each major release changed in webhook objects, at its first version and the one before --
# Sources: docs.stripe.com/changelog (basil: "Adds parent to Invoice", "Removes subscription,
# paid, payment_intent, charge... from Invoice", "Moves current_period_start/end to subscription
# items"; clover: "Replaces Discount.coupon with Discount.source"); endive's enum values as the
# types of stripe npm 23.0.1 (which pins 2026-09-30.endive) list them against 22.2.0's
# (2026-05-27.dahlia), the release notes' "Add support for new value" lines.


def _object(event_type: str, version: str) -> dict[str, Any]:
    return build_event(event_type, account="acct_1Majors", api_version=version).data_object


@pytest.mark.parametrize(
    ("before", "first"), [("2025-02-24.acacia", BASIL), ("2024-12-18.acacia", "2025-04-30.basil")]
)
def test_basil_moves_invoice_links_into_parent_and_periods_onto_items(
    before: str, first: str
) -> None:
    old, new = _object("invoice.paid", before), _object("invoice.paid", first)
    for gone in ("subscription", "paid", "payment_intent", "charge"):
        assert gone in old and gone not in new, gone
    assert "parent" not in old and "parent" in new
    assert "payments" in contracts.object_schema("invoice", version=first)["properties"]
    assert "payments" not in contracts.object_schema("invoice", version=before)["properties"]
    old_sub = _object("customer.subscription.updated", before)
    new_sub = _object("customer.subscription.updated", first)
    assert "current_period_end" in old_sub and "current_period_end" not in new_sub
    assert "current_period_end" not in old_sub["items"]["data"][0]
    assert {"current_period_start", "current_period_end"} <= set(new_sub["items"]["data"][0])
    assert "invoice" in _object("payment_intent.succeeded", before)
    assert "invoice" not in _object("payment_intent.succeeded", first)
    assert "invoice" in _object("charge.succeeded", before)
    assert "invoice" not in _object("charge.succeeded", first)
    for version in (before, first):
        for event_type in ("invoice.paid", "customer.subscription.updated"):
            event = build_event(event_type, api_version=version)
            assert contracts.validate_event(event.payload) == [], (event_type, version)


def test_clover_replaces_the_discounts_coupon_with_its_source() -> None:
    old = _object("customer.discount.created", "2025-08-27.basil")
    new = _object("customer.discount.created", CLOVER)
    assert "coupon" in old and "source" not in old
    assert "coupon" not in new and new["source"]["type"] == "coupon"
    # a basil event judged by its own stamp keeps its coupon; clover's contract requires source
    basil_event = build_event("customer.discount.created", api_version="2025-08-27.basil")
    assert contracts.validate_event(basil_event.payload) == []
    problems = contracts.validate_event({**basil_event.payload, "api_version": CLOVER})
    assert "$.data.object: 'source' is a required property" in problems


@pytest.mark.parametrize(
    ("path", "object_type", "value"),
    [
        (("tax_type",), "tax_rate", "digital_excise_tax"),
        (("type",), "tax_id", "ic_nif"),
    ],
)
def test_endive_adds_enum_values_dahlia_refuses(
    path: tuple[str, ...], object_type: str, value: str
) -> None:
    example = contracts.object_example(object_type, version="2026-09-30.endive")
    example[path[-1]] = value
    assert contracts.validate_object(object_type, example, version="2026-09-30.endive") == []
    assert contracts.validate_object(object_type, example, version="2026-11-18.endive") == []
    problems = contracts.validate_object(object_type, example, version="2026-08-26.dahlia")
    assert problems and problems[0].startswith(f"$.{path[-1]}: '{value}' is not one of"), problems


def test_docs_versions_table_examples_resolve_as_documented() -> None:
    from connect_harness.spec.versions import RELEASED

    docs = (REPO / "docs" / "versions.md").read_text(encoding="utf-8")
    flat = " ".join(docs.split())
    for example in ("2025-12-15.clover", "2025-09-30.clover", "2025-03-15.basil"):
        assert f"`{example}`" in flat
    clover = contracts.resolve_version("2025-12-15.clover")
    assert clover.shapes == "2025-09-30.clover" and clover.note is not None
    with pytest.raises(
        UsageError, match=re.escape("the nearest are 2025-02-24.acacia and 2025-03-31.basil")
    ):
        contracts.resolve_version("2025-03-15.basil")
    assert "`2026-12-16.endive`" in flat and "`2027-03-31.fig`" in flat
    assert contracts.resolve_version("2026-12-16.endive").shapes == NEWEST
    with pytest.raises(UsageError, match="upgrade connect-harness"):
        contracts.resolve_version("2027-03-31.fig")
    assert "`2025-03-01.dashboard` is left out" in flat and "2025-03-01.dashboard" not in RELEASED
    assert contracts.resolve_version("2024-06-20").shapes == OLDEST
    assert "python scripts/add_version.py 2026-12-16.endive" in docs
    assert (REPO / "scripts" / "add_version.py").is_file()


@pytest.mark.parametrize(
    "command", [["event", "invoice.paid"], ["events"], ["schema", "invoice.paid"]]
)
def test_cli_refuses_a_version_stripe_never_released_in_one_line(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    from connect_harness.cli import main

    try:
        code = main([*command, "--api-version", "2025-03-15.basil"])
    except SystemExit as exit_:  # argparse refuses a bad option value by exiting
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.endswith(
        "API version 2025-03-15.basil is not one Stripe released; the nearest are "
        "2025-02-24.acacia and 2025-03-31.basil: give the version your endpoint is pinned to (its "
        "Stripe dashboard or SDK names it)\n"
    )


def test_cli_schema_and_events_follow_a_pinned_version(capsys: pytest.CaptureFixture[str]) -> None:
    from connect_harness.cli import main

    assert main(["schema", "invoice.paid", "--api-version", "2025-04-30.basil"]) == 0
    out, err = capsys.readouterr()
    schema = json.loads(out)
    invoice = schema["$defs"]["invoice"]["properties"]
    assert "parent" in invoice and "subscription" not in invoice
    assert err == (
        "connect-harness: note: API version 2025-04-30.basil: events use the shapes of "
        "2025-03-31.basil (the set of the basil release, whose later versions only add fields), "
        "stamped 2025-04-30.basil\n"
    )
    assert main(["event", "invoice.paid", "--api-version", "2025-02-24.acacia"]) == 0
    out, _ = capsys.readouterr()
    event = json.loads(out)
    assert event["api_version"] == "2025-02-24.acacia" and "subscription" in event["data"]["object"]


# --- the SDK typing bugs the README lists (issue 18 item 3) ---------------------------------------

_SDK_BUGS_START = "<!-- sdk-typing-bugs:start -->"
_SDK_BUGS_END = "<!-- sdk-typing-bugs:end -->"


def _sdk_typing_bugs() -> list[str]:
    """The README's table rows: each ``sdk:`` reason of tests/node/tsc_known.json once (an
    event type's own name generalised), with the sets and how many event types it holds for."""
    known = json.loads((REPO / "tests" / "node" / "tsc_known.json").read_text(encoding="utf-8"))
    grouped: dict[str, dict[str, int]] = {}
    for version, entries in known["rejected"].items():
        for reason in entries.values():
            if not reason.startswith("sdk:"):
                continue
            text = re.sub(r"do not list \S+, which", "do not list the event type, which", reason)
            counts = grouped.setdefault(text.removeprefix("sdk:").strip(), {})
            counts[version] = counts.get(version, 0) + 1
    return [
        f"| {reason} | "
        + ", ".join(f"`{version}` ({count})" for version, count in counts.items())
        + " |"
        for reason, counts in grouped.items()
    ]


def test_the_readme_lists_every_sdk_typing_bug_with_its_reason() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert _SDK_BUGS_START in readme and _SDK_BUGS_END in readme
    block = readme.split(_SDK_BUGS_START, 1)[1].split(_SDK_BUGS_END, 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == _sdk_typing_bugs(), "\n".join(_sdk_typing_bugs())


def test_every_entry_of_ours_in_tsc_known_says_why() -> None:
    known = json.loads((REPO / "tests" / "node" / "tsc_known.json").read_text(encoding="utf-8"))
    for entries in known["rejected"].values():
        for reason in entries.values():
            assert reason.startswith(("sdk:", "ours:")), reason


def test_acacia_renames_the_billing_alerts_threshold() -> None:
    # stripe-node 17.0.0 (the first release pinning 2024-09-30.acacia), breaking changes due to the
    # API: `usage_threshold_config` renamed `usage_threshold` on Billing.Alert, `filter` removed.
    for version in ("2024-09-30.acacia", "2025-02-24.acacia", BASIL):
        alert = _object("billing.alert.triggered", version)["alert"]
        assert "usage_threshold" in alert, version
        assert not {"usage_threshold_config", "filter"} & set(alert), version
    # the version before: 2024-06-20 gets 2023-08-16's shapes, which predate billing alerts, so
    # the type is refused rather than rendered in a shape Stripe never sent
    assert "billing.alert.triggered" not in contracts.supported_event_types(version="2024-06-20")
    with pytest.raises(UsageError, match=re.escape("billing.alert.triggered")):
        build_event("billing.alert.triggered", api_version="2024-06-20")


@pytest.mark.parametrize("version", ["2023-08-16", "2024-09-30.acacia", BASIL, NEWEST])
def test_the_fakes_items_carry_the_plan_of_their_price(version: str) -> None:
    """Stripe renders the deprecated ``plan`` beside ``price`` (the Plan view of the price, same id:
    docs.stripe.com/billing/migration/migrating-prices); the fake's subscription items, their
    events and, before basil, invoice line items carry it, agreeing with the price."""
    from connect_harness.stripe_api.fake import FakeStripeAPI

    with FakeStripeAPI(api_version=version) as fake:
        client = stripe.StripeClient(
            "sk_test_fake", base_addresses={"api": fake.url}, stripe_version=version
        )

        def call(path: str, **params: Any) -> dict[str, Any]:
            answer: dict[str, Any] = json.loads(client.raw_request("post", path, **params).body)
            return answer

        customer = call(
            "/v1/customers", invoice_settings={"default_payment_method": "pm_card_visa"}
        )
        product = call("/v1/products", name="Gold")
        price = call(
            "/v1/prices",
            product=product["id"],
            unit_amount=1500,
            currency="usd",
            recurring={"interval": "month"},
        )
        subscription = call(
            "/v1/subscriptions", customer=customer["id"], items=[{"price": price["id"]}]
        )
        plan = subscription["items"]["data"][0]["plan"]
        assert (plan["id"], plan["object"], plan["amount"]) == (price["id"], "plan", 1500)
        assert (plan["interval"], plan["product"]) == ("month", product["id"])
        assert ("aggregate_usage" in plan) is (version < BASIL)  # basil removed it with meters
        schedule = call(
            "/v1/subscription_schedules",
            customer=customer["id"],
            start_date="now",
            phases=[{"items": [{"price": price["id"]}]}],
        )
        items = [item for phase in schedule["phases"] for item in phase["items"]]
        assert items and all(item["plan"] == item["price"] for item in items)
        events = [event.payload for event in fake.emitted_events()]
        for event in events:
            assert contracts.validate_event(event) == [], event["type"]
        created = next(e for e in events if e["type"] == "customer.subscription.created")
        assert created["data"]["object"]["items"]["data"][0]["plan"] == plan
        paid = next(e for e in events if e["type"] == "invoice.paid")
        lines = paid["data"]["object"]["lines"]["data"]
        assert lines
        for line in lines:
            if version < BASIL:
                assert line["plan"]["id"] == line["price"]["id"] == price["id"]
            else:
                assert "plan" not in line and "price" not in line


def test_drawn_events_keep_each_items_plan_in_agreement_with_its_price() -> None:
    """connect_harness.strategies varies an item's price (amount, currency, optional fields): the
    plan Stripe renders beside it follows (connect_harness.spec.plans)."""
    from hypothesis import HealthCheck, given, settings

    from connect_harness.strategies import events

    seen: list[int] = []

    @settings(
        max_examples=25,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(events(["customer.subscription.updated", "invoice.paid"], api_version="2023-08-16"))
    def check(event: Any) -> None:
        obj = event.payload["data"]["object"]
        listed = obj["items"] if obj["object"] == "subscription" else obj["lines"]
        for item in listed["data"]:
            price, plan = item.get("price"), item.get("plan")
            if not isinstance(price, dict) or not isinstance(price.get("recurring"), dict):
                assert plan is None
                continue
            seen.append(1)
            assert plan["id"] == price["id"]
            assert (plan["amount"], plan["currency"]) == (
                price.get("unit_amount"),
                price.get("currency"),
            )
            assert plan["interval"] == price["recurring"].get("interval")

    check()
    assert seen


def test_dahlia_renames_checkouts_ui_modes() -> None:
    # stripe-node 21.0.0 (the first release pinning 2026-03-25.dahlia), breaking changes due to the
    # API: Checkout.Session.ui_mode's values become elements, embedded_page, hosted_page.
    before, first = "2026-02-25.clover", "2026-03-25.dahlia"
    for version, old, new in ((before, "hosted", "hosted_page"), (first, "hosted_page", "hosted")):
        event = build_event("checkout.session.completed", api_version=version)
        event.payload["data"]["object"]["ui_mode"] = old
        assert contracts.validate_event(event.payload) == [], version
        event.payload["data"]["object"]["ui_mode"] = new
        problems = contracts.validate_event(event.payload)
        assert problems and problems[0].startswith(f"$.data.object.ui_mode: '{new}' is not one of")


def test_versions_page_says_no_gap_of_ours_is_left_and_the_correction_holds() -> None:
    known = json.loads((REPO / "tests" / "node" / "tsc_known.json").read_text(encoding="utf-8"))
    ours = [
        reason
        for entries in known["rejected"].values()
        for reason in entries.values()
        if reason.startswith("ours:")
    ]
    page = " ".join((REPO / "docs" / "versions.md").read_text(encoding="utf-8").split())
    assert ours == [] and "gaps of ours; none is left" in page
    assert "connect_harness/spec/corrections.py" in page


@pytest.mark.parametrize("owner", ["checkout.session", "payment_link"])
def test_acacia_checkout_and_payment_links_render_no_template_customers_do(owner: str) -> None:
    # the derived acacia description gave Checkout's and Payment Links' rendering options the
    # template only Customer had then (connect_harness.spec.corrections)
    from connect_harness.spec.corrections import WITHHELD

    assert {entry.field for entry in WITHHELD} == {"template"}
    event = build_event(f"{owner}.created" if owner == "payment_link" else f"{owner}.completed",
                        api_version="2024-09-30.acacia")  # fmt: skip
    settings = event.payload["data"]["object"]["invoice_creation"]["invoice_data"]
    assert "template" not in (settings.get("rendering_options") or {})
    customer = build_event("customer.created", api_version="2024-09-30.acacia")
    assert "template" in customer.payload["data"]["object"]["invoice_settings"]["rendering_options"]
    newest = build_event(f"{owner}.created" if owner == "payment_link" else f"{owner}.completed")
    assert (
        "template"
        in newest.payload["data"]["object"]["invoice_creation"]["invoice_data"]["rendering_options"]
    )
