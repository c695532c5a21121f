"""Build+sign cost per event as a ratio to the floor, and contract-validation time per event.

The floor is what any signer must do anyway: serialize the same dict the way Stripe renders it and
compute the HMAC. Both are measured in the same run, alternating, best of several rounds, so the ratio
means something on a noisy machine; absolute times are printed for context only.

    python bench/bench_events.py [--rounds 7] [--number 300]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from collections.abc import Callable

from connect_harness.events.build import build_event
from connect_harness.spec import contracts
from connect_harness.wire.signing import sign_payload

SECRET = "whsec_bench_secret"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
TIMESTAMP = 1_767_225_600
TYPES = ("account.updated", "payment_intent.succeeded")
GOAL = 3.0


def best_per_call(*fns: Callable[[], object], rounds: int, number: int) -> list[float]:
    """Best time per call of each function, measured in alternation so drift hits all alike."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for index, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[index] = min(best[index], (time.perf_counter() - start) / number)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=300)
    args = parser.parse_args()

    print(
        f"{'event type':<28} {'floor us':>9} {'build+sign us':>14} {'ratio':>6} {'validate us':>12}"
    )
    worst = 0.0
    for event_type in TYPES:
        event = build_event(event_type, account=ACCOUNT, livemode=True)
        payload = event.payload
        key = SECRET.encode()

        def floor(payload: dict[str, object] = payload, key: bytes = key) -> str:
            body = json.dumps(payload, indent=2, ensure_ascii=False).encode()
            return hmac.new(key, b"%d." % TIMESTAMP + body, hashlib.sha256).hexdigest()

        def build_and_sign(event_type: str = event_type) -> str:
            built = build_event(event_type, account=ACCOUNT, livemode=True)
            return sign_payload(built.body, SECRET, timestamp=TIMESTAMP)

        def validate(payload: dict[str, object] = payload) -> list[str]:
            return contracts.validate_event(payload)

        validate()  # compile the validator outside the measurement
        build_and_sign()
        floor_s, build_s, validate_s = best_per_call(
            floor, build_and_sign, validate, rounds=args.rounds, number=args.number
        )
        ratio = build_s / floor_s
        worst = max(worst, ratio)
        print(
            f"{event_type:<28} {floor_s * 1e6:>9.1f} {build_s * 1e6:>14.1f} "
            f"{ratio:>5.2f}x {validate_s * 1e6:>12.1f}"
        )
    verdict = "within" if worst <= GOAL else "OVER"
    print(f"worst build+sign ratio {worst:.2f}x the floor: {verdict} the {GOAL:.0f}x goal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
