"""verify's costs as ratios measured in one run: the default run against sample_app (before/after),
its fixed and per-delivery cost, URL delivery, per-delivery overhead, localstripe, xdist.

Issue 20's figures come first, each on a line of its own that starts with its name (:data:`FIGURES`,
which docs/explanation/performance.md quotes with the same names and goals):

* ``verify-in-process-vs-bare-posts``: a default ``verify --app`` against a trivial app (it verifies
  the signature and answers) vs posting the very requests that run delivered, signed as they were,
  to the same app with werkzeug's test client, one after the other from one process;
* ``verify-url-vs-bare-posts``: the same at a URL, the trivial app served by a separate process,
  vs an ``http.client`` loop posting those requests (a new connection each, as ours);
* ``verify-fixed-cost``: the intercept of a least-squares line through in-process runs of sizes;
  then ``verify-start-up`` (reported, not a figure): what a fresh process adds to a one-type run.
* ``verify-url-concurrency-4-vs-1``: a default verify at the URL with ``--concurrency 4`` over the
  same run with ``--concurrency 1``, alternating (below 1: faster).

* default ``connect-harness verify`` against sample_app in-process; with ``--before DIR`` (a checkout
  of an older tree: ``git archive <commit> | tar -x -C DIR``) the same run of that tree, alternating,
  each in a fresh interpreter, and the speedup;
* fixed cost and per-delivery cost of verify against a trivial app (it verifies the signature and
  answers), from a least-squares line through runs with 1 to 12 event types;
* URL delivery: ``connect_harness.deliver`` to a local server vs an ``http.client`` loop posting the
  same bytes (a new connection each, as ours), and a URL verify run's time;
* per-delivery overhead in-process: ``deliver`` vs Flask's test client posting the same bytes;
* events per second vs localstripe, when it is installed (``pip install localstripe``);
* the speedup of ``pytest -n 2`` over ``-n 0`` on an event-matrix test file using the plugin.

    python bench/bench_verify.py [--rounds 3] [--number 200] [--before DIR] [--skip-xdist]
                                 [--only-issue-20] [--only-concurrency]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # sample_app lives at the repository root
sys.path.insert(0, str(ROOT / "bench"))

from connect_harness import cli  # noqa: E402
from connect_harness.delivery import deliver, target_from  # noqa: E402
from connect_harness.events.build import build_event  # noqa: E402
from connect_harness.wire.request import delivery_request  # noqa: E402

SECRET = "whsec_bench_secret"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
SIZES = (1, 3, 6, 12)
SIZE_TYPES = (
    "customer.created",
    "payment_intent.succeeded",
    "account.updated",
    "invoice.paid",
    "checkout.session.completed",
    "charge.succeeded",
    "payout.paid",
    "payout.failed",
    "customer.updated",
    "charge.refunded",
    "transfer.created",
    "account.application.deauthorized",
)
GOALS = {"speedup": 1.5, "fixed": 0.3, "overhead": 1.05}

#: Issue 20's figures: name -> (goal, what the goal bounds). docs/explanation/performance.md quotes
#: each by this name with this goal (tests/test_settling_docs.py holds them together).
FIGURES: dict[str, tuple[float, str]] = {
    "verify-in-process-vs-bare-posts": (1.5, "x"),
    "verify-url-vs-bare-posts": (2.0, "x"),
    "verify-fixed-cost": (0.3, "s"),
    "verify-url-concurrency-4-vs-1": (1.0, "x"),
}


def figure_line(name: str, value: float, detail: str) -> str:
    """One figure as the bench prints it: ``name: value (goal <= G, within|OVER); detail``."""
    goal, unit = FIGURES[name]
    verdict = "within" if value <= goal else "OVER"
    shown = f"{value:.2f}{unit}" if unit == "x" else f"{value:.2f} {unit}"
    bound = f"{goal:g}{unit}" if unit == "x" else f"{goal:g} {unit}"
    return f"{name}: {shown} (goal <= {bound}, {verdict}); {detail}"


# A fresh interpreter runs one verify and prints its seconds and summary as JSON: argv[1] is the
# tree to import (its harness/ and root), argv[2:] verify's arguments.
_ONE_RUN = textwrap.dedent(
    """
    import contextlib, io, json, sys, time
    tree = sys.argv[1]
    sys.path[:0] = [tree + "/harness", tree, tree + "/bench"]
    from connect_harness import cli
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(sys.argv[2:])
    print(json.dumps({"seconds": time.perf_counter() - start, "code": code}))
    """
)


def _verify_in(tree: Path, argv: list[str], env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, str(tree), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tree,
        check=False,
    )
    if done.returncode != 0 and not done.stdout.strip():
        raise SystemExit(f"verify in {tree} did not run: {done.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"])


def _cv(values: Iterable[float]) -> str:
    values = list(values)
    if len(values) < 2:
        return "one round"
    return f"cv {statistics.pstdev(values) / statistics.mean(values):.0%}"


def sample_app_runs(folder: Path, rounds: int, before: Path | None) -> None:
    env = {
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_SECRET_KEY_TEST": "sk_test_bench",
        "STRIPE_SECRET_KEY_LIVE": "sk_live_bench",
    }
    argv = ["verify", "--app", "sample_app:create_app()", "--secret", SECRET]
    trees = [("after", ROOT)] + ([("before", before)] if before is not None else [])
    times: dict[str, list[float]] = {name: [] for name, _ in trees}
    for index in range(rounds):
        for name, tree in trees if index % 2 == 0 else trees[::-1]:
            db = folder / f"{name}-{index}.sqlite3"
            times[name].append(_verify_in(tree, argv, {**env, "SAMPLE_APP_DB": str(db)}))
    after = min(times["after"])
    line = f"default verify against sample_app in-process: {after:.2f} s ({_cv(times['after'])})"
    if before is not None:
        old = min(times["before"])
        speedup = old / after
        pairs = [b / a for a, b in zip(times["after"], times["before"], strict=True)]
        verdict = "within" if speedup >= GOALS["speedup"] else "SHORT OF"
        line += (
            f"; before {old:.2f} s ({_cv(times['before'])}): {speedup:.2f}x faster, per round "
            f"{min(pairs):.2f}-{max(pairs):.2f}x ({verdict} the {GOALS['speedup']}x goal)"
        )
    print(line)


def trivial_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Verifies the signature with stripe-python and answers 200, else 400: nothing more."""
    import stripe

    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size)
    try:
        stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE", ""), SECRET)
    except (ValueError, stripe.SignatureVerificationError):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"bad"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _verify_here(
    target: list[str], types: Iterable[str] | None, report: Path, *more: str
) -> tuple[float, int]:
    argv = ["verify", *target, "--secret", SECRET, *more]
    if types is not None:
        argv += ["--events", ",".join(types)]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        cli.main([*argv, "--report", str(report)])
    seconds = time.perf_counter() - start
    return seconds, int(json.loads(report.read_text())["summary"]["deliveries"])


def fixed_and_per_delivery(folder: Path, rounds: int) -> None:
    target = ["--app", "bench_verify:trivial_app"]
    _verify_here(target, SIZE_TYPES[:1], folder / "warm.json")  # imports, contracts, validators
    best: dict[int, tuple[float, int]] = {}
    for index in range(rounds):
        for size in SIZES if index % 2 == 0 else SIZES[::-1]:
            seconds, count = _verify_here(target, SIZE_TYPES[:size], folder / "r.json")
            if size not in best or seconds < best[size][0]:
                best[size] = (seconds, count)
    xs = [float(count) for _, count in best.values()]
    ys = [seconds for seconds, _ in best.values()]
    slope, intercept = statistics.linear_regression(xs, ys)
    points = ", ".join(f"{int(x)}: {y:.2f} s" for x, y in zip(xs, ys, strict=True))
    print(
        figure_line(
            "verify-fixed-cost",
            intercept,
            f"+ {slope * 1e3:.2f} ms per delivery, in-process against a trivial app, best of "
            f"{rounds} rounds (deliveries: {points})",
        )
    )
    start_up(folder, rounds, warm=best[SIZES[0]][0])


def start_up(folder: Path, rounds: int, *, warm: float) -> None:
    """What a fresh process adds to the fixed cost: a one-type verify as a command, vs warm."""
    argv = ["verify", "--app", "bench_verify:trivial_app", "--secret", SECRET]
    argv += ["--events", ",".join(SIZE_TYPES[: SIZES[0]]), "--report", str(folder / "s.json")]
    path = os.pathsep.join(str(part) for part in (ROOT / "harness", ROOT, ROOT / "bench"))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "connect_harness", *argv],
            env={**os.environ, "PYTHONPATH": path},
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        if not (folder / "s.json").is_file():
            raise SystemExit(f"the one-type verify did not run: {done.stderr.strip()[-400:]}")
    whole = min(times)
    print(
        f"verify-start-up: {whole - warm:.2f} s: `connect-harness verify` of {SIZES[0]} type in a "
        f"fresh interpreter took {whole:.2f} s ({_cv(times)}), the same run warm in-process "
        f"{warm:.2f} s (interpreter, imports, the contracts' first loads, every event's first "
        "build)"
        + (
            ", compiling every module: PYTHONDONTWRITEBYTECODE is set"
            if sys.flags.dont_write_bytecode
            else ""
        )
    )


@contextlib.contextmanager
def _recorded_deliveries() -> Iterator[list[Any]]:
    """The requests verify delivers while the block runs, in order."""
    from connect_harness.checks import run as run_module

    sent: list[Any] = []
    names = vars(run_module)  # the run calls the deliver it imported
    real = names["deliver"]

    def recording(request: Any, target: Any, **kwargs: Any) -> Any:
        sent.append(request)
        return real(request, target, **kwargs)

    names["deliver"] = recording
    try:
        yield sent
    finally:
        names["deliver"] = real


@contextlib.contextmanager
def served_elsewhere() -> Iterator[str]:
    """The trivial app served by a separate process (werkzeug, threaded): a real server at a URL."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "harness"), str(ROOT)])},
    )
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait()


def _serve_forever() -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, trivial_app, threaded=True, request_handler=Quiet)
    print(f"http://127.0.0.1:{server.port}/webhook", flush=True)
    server.serve_forever()


def verify_vs_bare_posts(folder: Path, rounds: int) -> None:
    """A default verify vs posting the same requests bare, in-process and at a URL (see module)."""
    from werkzeug.test import Client

    client = Client(trivial_app)
    app = ["--app", "bench_verify:trivial_app"]
    _verify_here(app, None, folder / "warm.json")  # imports, contracts, validators

    def in_process_posts(requests: list[Any]) -> None:
        for request in requests:
            with contextlib.suppress(Exception):  # the app's crash on a malformed body: a 500
                client.post("/webhook", data=request.body, headers=list(request.headers))

    with served_elsewhere() as url:
        host, port = "127.0.0.1", int(url.split(":")[2].split("/")[0])

        def url_posts(requests: list[Any]) -> None:
            for request in requests:
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("POST", "/webhook", body=request.body, headers=dict(request.headers))
                conn.getresponse().read()
                conn.close()

        for name, target, bare in (
            ("verify-in-process-vs-bare-posts", app, in_process_posts),
            ("verify-url-vs-bare-posts", [url], url_posts),
        ):
            ratios, runs, posts = [], [], []
            for _ in range(rounds):
                with _recorded_deliveries() as sent:
                    seconds, count = _verify_here(target, None, folder / "r.json")
                start = time.perf_counter()
                bare(sent)
                posted = time.perf_counter() - start
                runs.append(seconds)
                posts.append(posted)
                ratios.append(seconds / posted)
            best = min(runs) / min(posts)
            print(
                figure_line(
                    name,
                    best,
                    f"{min(runs):.2f} s for {count} deliveries vs {min(posts):.2f} s of bare "
                    f"posts, best of {rounds} rounds (per round {min(ratios):.2f}-"
                    f"{max(ratios):.2f}x)",
                )
            )


def url_concurrency(folder: Path, rounds: int) -> None:
    """A default verify at a URL (the trivial app in a separate process) with --concurrency 4 vs
    1, alternating; the time of 4 over the time of 1, best of each."""
    times: dict[str, list[float]] = {"1": [], "4": []}
    with served_elsewhere() as url:
        _verify_here([url], SIZE_TYPES[:1], folder / "warm.json")
        for index in range(rounds):
            for n in ("1", "4") if index % 2 == 0 else ("4", "1"):
                seconds, count = _verify_here([url], None, folder / "c.json", "--concurrency", n)
                times[n].append(seconds)
    ratios = [four / one for one, four in zip(times["1"], times["4"], strict=True)]
    print(
        figure_line(
            "verify-url-concurrency-4-vs-1",
            min(times["4"]) / min(times["1"]),
            f"{min(times['4']):.2f} s vs {min(times['1']):.2f} s for {count} deliveries, best of "
            f"{rounds} rounds (per round {min(ratios):.2f}-{max(ratios):.2f}x)",
        )
    )


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}/webhook"
    finally:
        server.shutdown()
        thread.join()


def url_delivery(rounds: int, number: int, before: Path | None) -> None:
    now = int(time.time())
    bodies = [build_event("customer.created", account=ACCOUNT, seed=s).body for s in range(number)]
    requests = [
        delivery_request(b, secrets=[SECRET], timestamp=now, livemode=False) for b in bodies
    ]
    with served(trivial_app) as url:
        target = target_from(url)
        host, port = "127.0.0.1", int(url.split(":")[2].split("/")[0])

        def ours() -> None:
            for request in requests:
                assert deliver(request, target).status == 200

        def loop() -> None:
            for request in requests:
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("POST", "/webhook", body=request.body, headers=dict(request.headers))
                response = conn.getresponse()
                response.read()
                conn.close()
                assert response.status == 200

        ours_t, loop_t, ratios = _alternate(ours, loop, rounds)
        print(
            f"URL delivery: deliver() {ours_t / number * 1e3:.2f} ms, http.client loop "
            f"{loop_t / number * 1e3:.2f} ms per request: {ours_t / loop_t:.2f}x "
            f"(per round {min(ratios):.2f}-{max(ratios):.2f}x)"
        )
        trees = [("after", ROOT)] + ([("before", before)] if before is not None else [])
        argv = ["verify", url, "--secret", SECRET, "--events", SIZE_TYPES[0]]
        runs: dict[str, list[float]] = {name: [] for name, _ in trees}
        for index in range(rounds):
            for name, tree in trees if index % 2 == 0 else trees[::-1]:
                runs[name].append(_verify_in(tree, argv, {}))
        line = f"verify --events {SIZE_TYPES[0]} at a URL: {min(runs['after']):.2f} s"
        if before is not None:
            saved = min(runs["before"]) - min(runs["after"])
            line += f", before {min(runs['before']):.2f} s ({saved:+.2f} s saved)"
        print(line)


def _alternate(
    first: Callable[[], None], second: Callable[[], None], rounds: int
) -> tuple[float, float, list[float]]:
    a = b = float("inf")
    ratios = []
    for index in range(rounds):
        pair = [first, second] if index % 2 == 0 else [second, first]
        took = {}
        for fn in pair:
            start = time.perf_counter()
            fn()
            took[fn] = time.perf_counter() - start
        a, b = min(a, took[first]), min(b, took[second])
        ratios.append(took[first] / took[second])
    return a, b, ratios


def overhead_vs_flask(folder: Path, rounds: int, number: int) -> None:
    from sample_app import create_app

    app = create_app(
        webhook_secret=SECRET,
        secret_key_test="sk_test_bench",
        secret_key_live="sk_live_bench",
        db_path=str(folder / "overhead.sqlite3"),
    )
    target = target_from(app)
    client = app.test_client()
    now = int(time.time())
    seeds = iter(range(10**6))

    def fresh() -> list[Any]:
        return [
            delivery_request(
                build_event("customer.created", account=ACCOUNT, seed=next(seeds)).body,
                secrets=[SECRET],
                timestamp=now,
                livemode=False,
            )
            for _ in range(number)
        ]

    def ours(batch: list[Any]) -> None:
        for request in batch:
            assert deliver(request, target).status == 200

    def theirs(batch: list[Any]) -> None:
        for request in batch:
            response = client.post("/webhook", data=request.body, headers=list(request.headers))
            assert response.status_code == 200

    ours_t = theirs_t = float("inf")
    ratios = []
    for index in range(rounds):
        took = {}
        for fn in (ours, theirs) if index % 2 == 0 else (theirs, ours):
            batch = fresh()  # new events each time, built outside the measurement
            start = time.perf_counter()
            fn(batch)
            took[fn] = time.perf_counter() - start
        ours_t, theirs_t = min(ours_t, took[ours]), min(theirs_t, took[theirs])
        ratios.append(took[ours] / took[theirs])
    ratio = ours_t / theirs_t
    verdict = "within" if ratio <= GOALS["overhead"] else "OVER"
    print(
        f"per delivery in-process: deliver() {ours_t / number * 1e3:.2f} ms, Flask test client "
        f"{theirs_t / number * 1e3:.2f} ms: {ratio:.2f}x (per round {min(ratios):.2f}-"
        f"{max(ratios):.2f}x; {verdict} the {GOALS['overhead']}x goal)"
    )


def localstripe() -> None:
    if importlib.util.find_spec("localstripe") is None:
        print("events per second vs localstripe: skipped, localstripe is not installed")
        return
    print(
        "events per second vs localstripe: skipped, localstripe is installed but this comparison "
        "is not implemented yet (it serves the API, it does not build signed webhook events)"
    )


_MATRIX_TEST = textwrap.dedent(
    """
    import pytest

    @pytest.mark.connect_matrix(TYPES)
    def test_delivered(connect_event, connect_client):
        assert connect_client.send(connect_event).status == 200
    """
)


def xdist_speedup(folder: Path, rounds: int) -> None:
    types = f"TYPES = {list(SIZE_TYPES)!r}\n"
    (folder / "test_matrix.py").write_text(
        _MATRIX_TEST.replace("import pytest\n", f"import pytest\n{types}")
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "harness"), str(ROOT / "bench")]),
        "CONNECT_HARNESS_APP": "bench_verify:trivial_app",
        "CONNECT_HARNESS_SECRET": SECRET,
        "CONNECT_HARNESS_SEED": "1",
    }

    def run(workers: str) -> Callable[[], None]:
        def go() -> None:
            done = subprocess.run(
                [
                    *(sys.executable, "-m", "pytest", "-q", "-p", "connect_harness"),
                    *("-p", "xdist", "-p", "no:cacheprovider", "-n", workers, "test_matrix.py"),
                ],
                cwd=folder,
                env={**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"pytest -n {workers} failed: {done.stdout[-400:]}")

        return go

    serial, parallel, ratios = _alternate(run("0"), run("2"), rounds)
    print(
        f"pytest -p connect_harness over the matrix of 12 types: -n 0 {serial:.1f} s, -n 2 "
        f"{parallel:.1f} s: {serial / parallel:.2f}x speedup (per round "
        f"{min(ratios):.2f}-{max(ratios):.2f}x, on {os.cpu_count()} cores)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--before", type=Path, help="an older tree to time the default run against")
    parser.add_argument("--skip-xdist", action="store_true")
    parser.add_argument("--only-issue-20", action="store_true", help="issue 20's figures only")
    parser.add_argument(
        "--only-concurrency", action="store_true", help="verify-url-concurrency-4-vs-1 only"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve_forever()
        return 0
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url_concurrency(folder, args.rounds)
        if args.only_concurrency:
            return 0
        verify_vs_bare_posts(folder, args.rounds)
        fixed_and_per_delivery(folder, args.rounds)
        if args.only_issue_20:
            return 0
        sample_app_runs(folder, args.rounds, args.before)
        url_delivery(args.rounds, args.number, args.before)
        overhead_vs_flask(folder, args.rounds, args.number)
        localstripe()
        if not args.skip_xdist:
            xdist_speedup(folder, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
