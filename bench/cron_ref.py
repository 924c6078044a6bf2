#!/usr/bin/env python3
"""cron_ref.py - bench/cron.c's work done by croniter, the reference.

croniter is the cron library Airflow and many Python schedulers use
(Debian: python3-croniter). The same mix of expressions and zones as
bench/cron.c (N schedules, expression i % 15, zone (i / 15) % 5), each
parsed once, then the next fire time of every one after the same instant,
ROUNDS times. Prints one logfmt line in bench/cron.c's units (mean
microseconds per next-fire computation, the whole pass in ms).

croniter reads a seconds field last, not first: bench/cron.c's
"*/20 * * * * *" (seconds first) is given to it as "* * * * * */20".

    cron_ref.py [N] [ROUNDS]      (defaults 10000 and 20)

Not for: a test (it asserts nothing).
"""
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

try:
    from croniter import croniter
except ImportError:  # a python3 of its own on PATH (pyenv): Debian's package then
    sys.path.append("/usr/lib/python3/dist-packages")
    from croniter import croniter

EXPRESSIONS = [
    "*/15 * * * *", "0 2 * * *", "30 2 * * mon-fri", "0 * * * *", "0 0 1 * *",
    "0 0 L * *", "0 9-17/2 * * 1-5", "@daily", "0 0 13 * 5", "* * * * * */20",
    "5 4 * * sun", "0 0 29 2 *", "0 12 1,15 * *", "0 */6 * * *", "45 23 * * 6"]
ZONES = ["UTC", "Europe/Zurich", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    zones = [ZoneInfo(z) for z in ZONES]
    after = datetime(2026, 3, 28, 23, 59, 30, tzinfo=timezone.utc)  # DST changes ahead
    schedules = [(EXPRESSIONS[i % len(EXPRESSIONS)], zones[(i // len(EXPRESSIONS)) % len(ZONES)])
                 for i in range(count)]
    started = time.perf_counter()
    iters = [croniter(expr, after.astimezone(zone)) for expr, zone in schedules]
    parse_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for r in range(rounds):
        start = after + timedelta(milliseconds=r)
        for it, (_, zone) in zip(iters, schedules):
            it.set_current(start.astimezone(zone))
            it.get_next(datetime)
    pass_ms = (time.perf_counter() - started) * 1000
    calls = count * rounds
    print(f"bench=cron_ref schedules={count} rounds={rounds} parse_all_ms={parse_ms:.0f} "
          f"next_us={pass_ms * 1000 / calls:.2f} pass_ms={pass_ms / rounds:.1f}")


if __name__ == "__main__":
    main()
