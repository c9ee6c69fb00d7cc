"""Run the benchmarks: ``python -m tests.bench [name ...]`` (names without the ``bench_`` prefix)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
import time

import tests.bench


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(tests.bench.__path__) if m.name.startswith("bench_"))
    chosen = [n for n in names if not argv or n.removeprefix("bench_") in argv]
    if not chosen:
        print(f"no benchmark matches {argv}; there are: {', '.join(n.removeprefix('bench_') for n in names)}")
        return 2
    for name in chosen:
        module = importlib.import_module(f"tests.bench.{name}")
        started = time.perf_counter()
        print(f"# {name}", flush=True)
        asyncio.run(module.main())
        print(f"# {name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
