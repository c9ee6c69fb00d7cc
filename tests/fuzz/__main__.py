"""``python -m tests.fuzz [messages [ws|group|alerts]]`` (``make fuzz``): the socket fuzz of the suite at scale.

100,000 messages by default, shared out over ``/ws`` (half), ``/ws/group`` (a third) and ``/ws/alerts`` (the rest),
on one running server (SQLite in a temporary directory); random (not derandomized) each run. A failure is printed
with the frame that caused it and the fuzz goes on in a new room. Prints ``BENCH`` lines like the benchmarks
(``tests/bench``) and exits non-zero on any failure or server error."""

from __future__ import annotations

import asyncio
import sys
import time

from signaling import protocol as p
from tests.fuzz.rooms import AlertsFuzz, ConsultationFuzz, GroupFuzz
from tests.fuzz.sockets import Fuzz, batches, drive
from tests.fuzz.strategies import frames
from tests.helpers.browser import running_server

MESSAGES = 100_000
CHUNK = 40  # batches per hypothesis run


def bench(name: str, value: int, unit: str, op: str, target: int) -> None:
    """A ``BENCH`` line (tests.bench.report's format, with whole numbers as such)."""
    print(f"BENCH {name} {value} {unit} target {op} {target}", flush=True)


async def fuzz(total: int, only: str | None = None) -> int:
    shares: list[tuple[type[Fuzz], int, int]] = [(ConsultationFuzz, 2, total // 2), (GroupFuzz, 3, total // 3)]
    shares.append((AlertsFuzz, 1, total - sum(share for *_, share in shares)))
    if only is not None:  # one endpoint: "ws", "group" or "alerts"
        names = {"ws": ConsultationFuzz, "group": GroupFuzz, "alerts": AlertsFuzz}
        shares = [(kind, senders, total) for kind, senders, _ in shares if kind is names[only]]
    messages = errors = 0
    failures: list[str] = []
    started = time.perf_counter()
    async with running_server(ws_messages_per_second=100_000, mfa_roles=()) as server:
        for kind, senders, share in shares:
            types = p.MESSAGE_TYPES if kind is not AlertsFuzz else p.GROUP_TYPES
            done = 0
            while done < share:
                # A failure leaves its room as it was: note it, and go on in a new room.
                async with kind(server.app) as driver:
                    try:
                        while done + driver.messages < share:
                            await drive(driver, batches(frames(types), senders), CHUNK, derandomize=False)
                    except AssertionError as failure:
                        failures.append(f"{kind.__name__}: {failure}")
                        print(f"# FAILURE in {kind.__name__}:\n{failure}", flush=True)
                done += driver.messages
                errors += driver.server_errors
                print(f"# {kind.__name__}: {done} messages", flush=True)
            messages += done
    seconds = time.perf_counter() - started
    bench("fuzz_messages", messages, "messages", ">=", total)
    bench("fuzz_server_errors", errors, "errors", "==", 0)
    bench("fuzz_rate", round(messages / seconds), "messages/s", ">=", 0)
    bench("fuzz_failures", len(failures), "failures", "==", 0)
    return 0 if messages >= total and errors == 0 and not failures else 1


def main(argv: list[str]) -> int:
    return asyncio.run(fuzz(int(argv[0]) if argv else MESSAGES, argv[1] if len(argv) > 1 else None))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
