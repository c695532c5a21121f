"""Build+sign cost per event as a ratio to the naive floor, and contract-validation time per event.

The floor is what a naive signer does: serialize the same dict the way Stripe renders it
(``json.dumps(indent=2)``) and compute the HMAC. Three things are measured in the same run,
alternating, best of several rounds, so the ratios mean something on a shared machine: the floor,
build+sign as shipped (bodies rendered from templates; every call a new seed, so new ids), and
build+sign through the full path (what every build cost before templates). Absolute times are
printed for context only.

    python bench/bench_events.py [--rounds 7] [--number 300]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import statistics
import time
from collections.abc import Callable

from connect_harness.events.build import build_event, full_rendering
from connect_harness.spec import contracts
from connect_harness.wire.signing import sign_payload

SECRET = "whsec_bench_secret"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
TIMESTAMP = 1_767_225_600
TYPES = (
    "account.updated",
    "payment_intent.succeeded",
    "invoice.paid",
    "checkout.session.completed",
    "customer.created",
)
GOAL = 0.5


def per_call(
    *fns: Callable[[], object], rounds: int, number: int
) -> tuple[list[float], list[list[float]]]:
    """Best time per call of each function, and every round's ratio to the first function.

    Measured in alternation so drift hits all alike; the spread of the ratios says how noisy it was.
    """
    best = [float("inf")] * len(fns)
    ratios: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        times = []
        for fn in fns:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - start) / number)
        for index, value in enumerate(times):
            best[index] = min(best[index], value)
            ratios[index].append(value / times[0])
    return best, ratios


def spread(values: list[float]) -> str:
    """min-max of per-round ratios, and their coefficient of variation."""
    cv = statistics.pstdev(values) / statistics.mean(values) if len(values) > 1 else 0.0
    return f"{min(values):.2f}-{max(values):.2f} (cv {cv:.0%})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=300)
    args = parser.parse_args(argv)

    print(
        f"{'event type':<28} {'floor us':>9} {'build+sign':>11} {'ratio':>6} "
        f"{'per-round':>22} {'full path':>10} {'ratio':>6} {'validate us':>12}"
    )
    worst = 0.0
    seeds = itertools.count(1)
    key = SECRET.encode()
    for event_type in TYPES:
        payload = build_event(event_type, account=ACCOUNT, livemode=True).payload

        def floor(payload: dict[str, object] = payload) -> str:
            body = json.dumps(payload, indent=2, ensure_ascii=False).encode()
            return hmac.new(key, b"%d." % TIMESTAMP + body, hashlib.sha256).hexdigest()

        def build_and_sign(event_type: str = event_type) -> str:
            built = build_event(event_type, account=ACCOUNT, livemode=True, seed=next(seeds))
            return sign_payload(built.body, SECRET, timestamp=TIMESTAMP)

        def full_build_and_sign(event_type: str = event_type) -> str:
            with full_rendering():
                return build_and_sign(event_type)

        def validate(payload: dict[str, object] = payload) -> list[str]:
            return contracts.validate_event(payload)

        validate()  # compile the validator outside the measurement
        build_and_sign()
        build_and_sign()  # a key's second use makes its template
        (floor_s, build_s, full_s, validate_s), ratios = per_call(
            floor,
            build_and_sign,
            full_build_and_sign,
            validate,
            rounds=args.rounds,
            number=args.number,
        )
        ratio = build_s / floor_s
        worst = max(worst, ratio)
        print(
            f"{event_type:<28} {floor_s * 1e6:>9.1f} {build_s * 1e6:>9.1f}us {ratio:>5.2f}x "
            f"{spread(ratios[1]):>22} {full_s * 1e6:>8.1f}us {full_s / floor_s:>5.2f}x "
            f"{validate_s * 1e6:>12.1f}"
        )
    verdict = "within" if worst <= GOAL else "OVER"
    print(f"worst build+sign ratio {worst:.2f}x the floor: {verdict} the {GOAL}x goal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
