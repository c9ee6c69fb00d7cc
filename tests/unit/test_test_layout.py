"""The tests' own layout: no module under ``tests/`` imports a test module. What two of them share lives in
``tests.helpers``; fixtures live in the ``conftest.py`` files, which pytest provides without an import.

Allowed besides ``tests.helpers``: the fuzzer's own modules (``tests.fuzz``, a program whose library the fuzz tests
drive; not its command, ``tests.fuzz.__main__``), and, within the benchmarks, their package (``tests.bench``, which
holds ``report``). Every other module under ``tests/`` -- test modules, ``conftest.py`` files, benchmarks, the
commands -- is imported by nobody.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module imported) of every import statement, at any depth; relative imports resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                package = package if is_package else package[:-1]
                anchor = ".".join(package[: len(package) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # ``from tests.integration import test_api`` imports a module
                name = f"{base}.{alias.name}"
                found.append((node.lineno, name if is_module(name) else base))
    return found


def allowed(importer: str, imported: str) -> bool:
    def within(package: str, name: str) -> bool:
        return name == package or name.startswith(package + ".")

    if not within("tests", imported) or within("tests.helpers", imported):
        return True
    if within("tests.fuzz", imported) and not imported.endswith(".__main__"):
        return True
    return imported == "tests.bench" and within("tests.bench", importer)


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    tree = ast.parse(source)
    return [
        f"{module}:{line} imports {imported}"
        for line, imported in imports(tree, module, is_package)
        if not allowed(module, imported)
    ]


def test_no_module_under_tests_imports_a_test_module() -> None:
    found: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" not in path.parts:
            found += violations(path.read_text(encoding="utf-8"), module_of(path), path.name == "__init__.py")
    assert not found, "move what they share into tests/helpers (fixtures into a conftest.py):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from tests.integration.test_api import body", "tests.integration.test_case_linking"),
        ("from tests.integration import test_api", "tests.unit.test_x"),
        ("import tests.integration.test_mail", "tests.unit.test_series"),
        ("from .test_mail import smtp_server", "tests.integration.test_jobs"),
        ("from tests.conftest import MakeClient", "tests.integration.test_api"),
        ("from tests.e2e.conftest import LiveServer", "tests.e2e.test_call"),
        ("def f():\n    from tests.integration.test_group_room import GroupHarness", "tests.fuzz.rooms"),
        ("from tests.bench.bench_booking import serve", "tests.bench.bench_stats"),
        ("from tests.bench import report", "tests.integration.test_api"),
        ("from tests.fuzz.__main__ import fuzz", "tests.integration.test_fuzz_sockets"),
        ("from tests.integration.test_api import body", "tests.helpers.booking"),
    ],
)
def test_an_import_of_a_test_module_is_found(source: str, module: str) -> None:
    assert violations(source, module)


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from tests.helpers.factories import make_staff", "tests.integration.test_api"),
        ("from tests.helpers import factories", "tests.integration.test_api"),
        ("import tests.helpers.sockets", "tests.fuzz.sockets"),
        ("from tests.fuzz.strategies import frames", "tests.unit.test_protocol_fuzz"),
        ("from tests.bench import report", "tests.bench.bench_booking"),
        ("from .factories import PASSWORD", "tests.helpers.web"),
        ("from server.models import Staff", "tests.integration.test_api"),
    ],
)
def test_imports_of_helpers_and_the_product_are_allowed(source: str, module: str) -> None:
    assert violations(source, module) == []
