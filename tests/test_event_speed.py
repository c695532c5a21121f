"""The shortcuts that make events cheaper (issue 20) give what the slow ways gave.

Each shortcut is compared with the plain way it replaces, on drawn inputs; the bytes of every event
of every contract set are held by tests/test_event_speed_bytes.py.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import connect_harness
from connect_harness.events import objects, render
from connect_harness.events.build import render_body

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=6), _JSON, max_size=5), ascii_only=st.booleans())
def test_render_body_writes_what_json_dumps_writes(
    payload: dict[str, Any], ascii_only: bool
) -> None:
    expected = json.dumps(payload, indent=2, ensure_ascii=ascii_only).encode("utf-8")
    assert render_body(payload, ascii_only=ascii_only) == expected


class _Label(str):
    pass


@pytest.mark.parametrize(
    "payload",
    [
        {1: "int key", None: "null key", 2.5: "float key", False: "bool key"},
        {"nested": {"deep": [{"nan": math.nan, "inf": -math.inf}]}},
        {"flag": __import__("enum").IntEnum("Flag", "ON").ON},
        {"label": _Label("subclass")},
        {"empty": [{}, [], ()]},
    ],
)
def test_render_body_leaves_what_is_not_plain_json_to_json_dumps(payload: Any) -> None:
    assert render_body(payload) == json.dumps(payload, indent=2).encode("utf-8")


def test_render_body_refuses_what_json_dumps_refuses() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference"):
        render_body(circular)
    with pytest.raises(TypeError, match="not JSON serializable"):
        render_body({"when": object()})


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="ab_1", max_size=40),
    needles=st.lists(st.text(alphabet="ab_1", max_size=4), max_size=6),
)
def test_template_cuts_are_where_the_regex_alternation_matches(
    text: str, needles: list[str]
) -> None:
    pattern = re.compile("|".join(map(re.escape, needles))) if needles else None
    expected = (
        [(match.start(), match.group(0)) for match in pattern.finditer(text)] if pattern else []
    )
    assert render._matches(text, needles) == expected


def _linear_scan(object_id: str) -> str | None:
    for prefix, object_type in objects._prefixes_longest_first():
        if object_id.startswith(prefix):
            return object_type
    return None


def test_an_id_names_the_type_the_longest_known_prefix_names() -> None:
    prefixes = [prefix for prefix, _ in objects._prefixes_longest_first()]
    assert "sub_sched_" in prefixes and "sub_" in prefixes
    ids = ["", "_", "__", "nope", "sub_sched", "x_sub_1", "acct_", "acct_1_2_3"]
    for prefix in prefixes:
        ids += [
            prefix,
            prefix + "1Abc",
            prefix + "_x",
            prefix[:-1],
            prefix + "sched_1",
            "z" + prefix,
        ]
    for object_id in ids:
        assert objects.object_type_for_id(object_id) == _linear_scan(object_id), object_id
    assert objects.object_type_for_id("sub_sched_1Abc") == "subscription_schedule"
    assert objects.object_type_for_id("sub_1Abc") == "subscription"


def test_a_verify_run_loads_no_jsonschema(tmp_path: Path) -> None:
    """jsonschema and referencing (a quarter second to import) only explain a failure or build the
    contracts; a run whose events are valid never imports them."""
    app = tmp_path / "tiny_app.py"
    app.write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n",
        encoding="utf-8",
    )
    script = (
        "import contextlib, io, sys\n"
        "from connect_harness import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['verify', '--app', 'tiny_app:app', '--secret', 'whsec_tiny',\n"
        "              '--events', 'customer.created', '--report', 'r.json'])\n"
        "print(sorted({'jsonschema', 'referencing'} & set(sys.modules)))\n"
    )
    harness = Path(connect_harness.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(harness), str(tmp_path)])},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (tmp_path / "r.json").is_file(), done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
