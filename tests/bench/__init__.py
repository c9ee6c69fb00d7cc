"""Benchmarks (not collected as tests). Each ``bench_*.py`` module has ``async def main() -> None`` that prints
its figures with :func:`report`; ``make bench`` (``python -m tests.bench``) runs them all, or those named."""

from __future__ import annotations


def report(name: str, value: float, unit: str, op: str, target: float) -> None:
    """One figure on its own line: ``BENCH <name> <value> <unit> target <op> <target>``."""
    shown = f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"
    print(f"BENCH {name} {shown} {unit} target {op} {target:g}", flush=True)
