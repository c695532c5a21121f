"""The fake API's routes are Stripe's description's, looked up without scanning a list."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from connect_harness.errors import UsageError
from connect_harness.spec.contracts import contracts_dir
from connect_harness.spec.routes import build_api_routes, main
from connect_harness.stripe_api.routes import (
    RouteTable,
    api_data_dirs,
    load_routes,
    routes_for_version,
)

REPO = Path(__file__).resolve().parents[1]
# Stripe's data: CONNECT_HARNESS_STRIPE_SPEC, else ../shared/stripe-spec beside the repository.
STRIPE_SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC") or REPO.parent / "shared" / "stripe-spec"
)
SPECS = {
    "2023-08-16": "openapi.spec3.2023-08-16.json",
    "2026-05-27.dahlia": "openapi.spec3.2026-05-27.json",
    "2026-10-28.endive": "openapi.spec3.2026-10-28.derived.json",
    **{
        version: f"openapi.spec3.{version}.derived.json"
        for version in (
            "2024-09-30.acacia",
            "2025-03-31.basil",
            "2025-09-30.clover",
            "2026-03-25.dahlia",
            "2026-09-30.endive",
            "2026-11-18.endive",
        )
    },
}
needs_spec = pytest.mark.skipif(
    not STRIPE_SPEC.is_dir(),
    reason=f"Stripe's data is not at {STRIPE_SPEC} (set CONNECT_HARNESS_STRIPE_SPEC): cannot "
    "compare the routes with Stripe's description",
)


def _spec(version: str) -> dict[str, object]:
    return json.loads((STRIPE_SPEC / SPECS[version]).read_text(encoding="utf-8"))


def test_every_version_the_contracts_ship_has_route_data() -> None:
    assert set(api_data_dirs()) == set(SPECS)
    for version, folder in api_data_dirs().items():
        # The route data sits in that version's contract set, beside its event contracts.
        assert folder == contracts_dir() / version
        assert (folder / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("requested", "served"),
    [
        (None, "2026-11-18.endive"),  # no Stripe-Version: the contracts' default, the newest set
        ("2026-10-28.endive", "2026-10-28.endive"),
        ("2026-10-28", "2026-10-28.endive"),
        ("2026-05-27.dahlia", "2026-05-27.dahlia"),
        ("2024-06-20", "2023-08-16"),
        ("2019-02-19", "2023-08-16"),
    ],
)
def test_a_request_version_picks_its_route_data(requested: str | None, served: str) -> None:
    assert routes_for_version(requested).api_version == served


@needs_spec
@pytest.mark.parametrize("version", sorted(SPECS))
def test_served_routes_are_exactly_the_descriptions_v1_operations(version: str) -> None:
    spec = _spec(version)
    table = load_routes(api_data_dirs()[version])
    described = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()  # type: ignore[attr-defined]
        for method in operations
        if method in ("get", "post", "delete") and path.startswith("/v1/")
    }

    served = {(route.method, route.template) for route in table.routes}

    assert served == described
    assert table.api_version == version


@needs_spec
@pytest.mark.parametrize("version", sorted(SPECS))
def test_committed_route_data_is_a_fresh_build(version: str) -> None:
    files = build_api_routes(_spec(version))

    for relative, text in files.items():
        assert (api_data_dirs()[version] / relative).read_text(encoding="utf-8") == text, relative


@needs_spec
def test_the_builder_is_deterministic_and_drops_descriptions() -> None:
    spec = _spec("2023-08-16")

    first, second = build_api_routes(spec), build_api_routes(spec)

    assert first == second
    assert sorted(first) == ["api/objects.json", "api/routes.json"]
    assert "Specifies which fields" not in first["api/routes.json"]
    assert sum(len(text) for text in first.values()) < 400_000


def test_the_builder_refuses_what_is_not_a_description() -> None:
    with pytest.raises(UsageError, match="has no 'paths'"):
        build_api_routes({"openapi": "3.0.0"})


def test_the_build_command_writes_one_versions_data(tmp_path: Path) -> None:
    spec = {
        "info": {"version": "2099-01-01"},
        "paths": {
            "/v1/widgets/{widget}": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/widget"}
                                }
                            }
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "widget": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "object": {"enum": ["widget"]}},
                }
            }
        },
    }
    source = tmp_path / "spec.json"
    source.write_text(json.dumps(spec))

    assert main([str(source), str(tmp_path / "v")]) == 0
    table = load_routes(tmp_path / "v")
    route, values, _ = table.match("GET", "/v1/widgets/wid_1")
    assert route is not None and (route.kind, route.types, values) == (
        "retrieve",
        ("widget",),
        {"widget": "wid_1"},
    )
    assert table.example("widget") == {"id": "", "object": "widget"}
    assert main([str(tmp_path / "missing.json"), str(tmp_path / "v")]) == 2


def _table() -> RouteTable:
    return load_routes(api_data_dirs()["2026-10-28.endive"])


@pytest.mark.parametrize(
    ("method", "path", "template", "kind"),
    [
        ("GET", "/v1/customers/search", "/v1/customers/search", "search"),
        ("GET", "/v1/customers/cus_1", "/v1/customers/{customer}", "retrieve"),
        ("GET", "/v1/customers", "/v1/customers", "list"),
        ("POST", "/v1/customers", "/v1/customers", "create"),
        ("POST", "/v1/customers/cus_1", "/v1/customers/{customer}", "update"),
        ("DELETE", "/v1/customers/cus_1", "/v1/customers/{customer}", "delete"),
        (
            "POST",
            "/v1/payment_intents/pi_1/capture",
            "/v1/payment_intents/{intent}/capture",
            "action",
        ),
        (
            "POST",
            "/v1/payment_intents/pi_1/cancel",
            "/v1/payment_intents/{intent}/cancel",
            "action",
        ),
        (
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            "/v1/payment_intents/{intent}/confirm",
            "action",
        ),
        ("GET", "/v1/balance", "/v1/balance", "singleton"),
        ("GET", "/v1/balance_transactions/txn_1", "/v1/balance_transactions/{id}", "retrieve"),
        ("GET", "/v1/tax_ids/txi_1", "/v1/tax_ids/{id}", "retrieve"),
        (
            "GET",
            "/v1/identity/verification_reports/vr_1",
            "/v1/identity/verification_reports/{report}",
            "retrieve",
        ),
        (
            "GET",
            "/v1/accounts/acct_1/persons/person_1",
            "/v1/accounts/{account}/persons/{person}",
            "retrieve",
        ),
        ("POST", "/v1/charges/ch_1/refunds", "/v1/charges/{charge}/refunds", "create"),
    ],
)
def test_lookup_finds_the_operation(method: str, path: str, template: str, kind: str) -> None:
    route, _, _ = _table().match(method, path)

    assert route is not None
    assert (route.template, route.kind) == (template, kind)


def test_unknown_paths_and_methods_match_nothing() -> None:
    table = _table()

    assert table.match("GET", "/v1/nothing_here")[0] is None
    assert table.match("DELETE", "/v1/payment_intents/pi_1") == (None, {}, True)
    assert table.match("GET", "/v2/core/events/evt_1")[0] is None
    assert table.match("GET", "/v1/customers//")[0] is None


def _steps_per_lookup(
    table: RouteTable, method: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> int:
    """How many tree nodes one lookup visits (work counted, not timed: a busy machine cannot
    change it)."""
    visits = 0
    walk = RouteTable._walk

    def counting(self: RouteTable, node: Any, segments: list[str], index: int) -> Any:
        nonlocal visits
        visits += 1
        return walk(self, node, segments, index)

    with monkeypatch.context() as patch:
        patch.setattr(RouteTable, "_walk", counting)
        assert table.match(method, path)[0] is not None
    return visits


def test_lookup_cost_does_not_grow_with_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    full = _table()
    template = "/v1/customers/{customer}"
    tiny = RouteTable(
        {
            "routes": [["GET", template, "retrieve", ["customer"], [], 0]],
            "nodes": [{}],
        }
    )

    full_steps = _steps_per_lookup(full, "GET", "/v1/customers/cus_1", monkeypatch)
    tiny_steps = _steps_per_lookup(tiny, "GET", "/v1/customers/cus_1", monkeypatch)

    # ~600 routes cost what one does: one node per path segment (a scan would visit hundreds).
    assert full_steps == tiny_steps == len(["", "v1", "customers", "cus_1"])
