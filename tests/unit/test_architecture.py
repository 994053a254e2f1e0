"""The layering of ARCHITECTURE §1, checked on the source tree with the `ast` module.

- no service package imports another service package;
- every service has the same file set (app, api, handlers, domain, store, models, settings);
- domain.py imports only the standard library, pydantic, ticketstream.contracts and its own
  package's domain-level modules (modules that obey the same rule);
- within services pymongo is imported only by store modules, fastapi never by domain or store;
- the platform library `ticketstream` never imports a `ticketstream_<service>` package.

The checker functions are tested on small synthetic sources first, so a rule that silently stops
seeing imports fails here too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_SRC = ROOT / "shared" / "src"
PLATFORM_PACKAGE = "ticketstream"
SERVICE_NAMES = ("ingest", "tickets", "sla", "notify", "analytics")
SERVICE_PREFIX = "ticketstream_"
REQUIRED_MODULES = ("app", "api", "handlers", "domain", "store", "models", "settings")
# Roles that do IO or wire frameworks: never "domain-level", whatever they import.
NON_DOMAIN_ROLES = frozenset({"app", "api", "handlers", "store", "models", "settings", "__main__"})
DOMAIN_THIRD_PARTY = frozenset({"pydantic"})
CONTRACTS = "ticketstream.contracts"
STDLIB = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class Import:
    """One imported module as written in a file, resolved to an absolute dotted name."""

    path: Path
    line: int
    module: str
    names: tuple[str, ...] = ()

    @property
    def top(self) -> str:
        return self.module.split(".", 1)[0]

    def candidates(self) -> Iterator[str]:
        """The module itself and, for `from pkg import x`, the possible submodules `pkg.x`."""
        yield self.module
        for name in self.names:
            if name != "*":
                yield f"{self.module}.{name}"

    def describe(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        imported = (
            f"from {self.module} import {', '.join(self.names)}" if self.names else f"import {self.module}"
        )
        return f"{where}:{self.line}: {imported}"


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, *, path: Path, module: str) -> list[Import]:
    """Every import in `source`, including those inside functions and TYPE_CHECKING blocks."""
    is_package = path.name == "__init__.py"
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend(Import(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(Import(path, node.lineno, target, tuple(alias.name for alias in node.names)))
    return found


@dataclass(frozen=True)
class SourceFile:
    path: Path
    module: str
    imports: tuple[Import, ...]

    @property
    def package(self) -> str:
        return self.module.split(".", 1)[0]

    @property
    def stem(self) -> str:
        return self.module.rsplit(".", 1)[-1]


def load_tree(src: Path) -> dict[str, SourceFile]:
    files: dict[str, SourceFile] = {}
    for path in sorted(src.rglob("*.py")):
        module = module_name(path, src)
        imports = imports_of(path.read_text(encoding="utf-8"), path=path, module=module)
        files[module] = SourceFile(path, module, tuple(imports))
    return files


def service_src(name: str) -> Path:
    return ROOT / "services" / name / "src"


def load_services() -> dict[str, SourceFile]:
    files: dict[str, SourceFile] = {}
    for name in SERVICE_NAMES:
        files.update(load_tree(service_src(name)))
    return files


# --- the rules, as functions of parsed files --------------------------------------------------


def cross_service_imports(files: Iterable[SourceFile]) -> list[str]:
    return [
        item.describe()
        for file in files
        for item in file.imports
        if item.top.startswith(SERVICE_PREFIX) and item.top != file.package
    ]


def platform_imports_of_services(files: Iterable[SourceFile]) -> list[str]:
    return [item.describe() for file in files for item in file.imports if item.top.startswith(SERVICE_PREFIX)]


def _is_domain_level_import(item: Import, package: str, tree: dict[str, SourceFile], seen: set[str]) -> bool:
    if item.top in STDLIB or item.top in DOMAIN_THIRD_PARTY:
        return True
    if item.module == CONTRACTS or item.module.startswith(f"{CONTRACTS}."):
        return True
    if item.top != package:
        return False
    # Own package: every module named by the import must itself be domain-level.
    own = [candidate for candidate in item.candidates() if candidate in tree and candidate != package]
    if not own:
        # `from pkg import name` where name is not a module: it comes from pkg/__init__.py.
        own = [package] if package in tree else []
    return bool(own) and all(_is_domain_module(tree[name], tree, seen) for name in own)


def _is_domain_module(file: SourceFile, tree: dict[str, SourceFile], seen: set[str]) -> bool:
    if file.stem in NON_DOMAIN_ROLES:
        return False
    if file.module in seen:
        return True
    seen.add(file.module)
    return all(_is_domain_level_import(item, file.package, tree, seen) for item in file.imports)


def impure_domain_imports(tree: dict[str, SourceFile]) -> list[str]:
    offences: list[str] = []
    for file in tree.values():
        if file.stem != "domain":
            continue
        seen = {file.module}
        offences.extend(
            item.describe()
            for item in file.imports
            if not _is_domain_level_import(item, file.package, tree, seen)
        )
    return offences


def is_store_module(file: SourceFile) -> bool:
    """store.py, or a store split into store_*.py modules or a `store` package."""
    parts = file.module.split(".")
    return file.stem == "store" or file.stem.startswith("store_") or "store" in parts[1:-1]


def pymongo_outside_stores(files: Iterable[SourceFile]) -> list[str]:
    return [
        item.describe()
        for file in files
        if not is_store_module(file)
        for item in file.imports
        if item.top == "pymongo"
    ]


def fastapi_in_domain_or_store(files: Iterable[SourceFile]) -> list[str]:
    return [
        item.describe()
        for file in files
        if file.stem == "domain" or is_store_module(file)
        for item in file.imports
        if item.top in {"fastapi", "starlette"}
    ]


def report(offences: list[str], rule: str) -> str:
    return f"{rule}:\n  " + "\n  ".join(offences)


# --- the checker sees what it should ----------------------------------------------------------


def synthetic(files: dict[str, str]) -> dict[str, SourceFile]:
    """Parse in-memory modules named like `ticketstream_x.domain` as if they were on disk."""
    tree: dict[str, SourceFile] = {}
    for module, source in files.items():
        parts = module.split(".")
        path = ROOT / "virtual" / Path(*parts).with_suffix(".py")
        tree[module] = SourceFile(path, module, tuple(imports_of(source, path=path, module=module)))
    return tree


def test_checker_resolves_relative_and_nested_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "from . import store\n"
        "from .domain import rules\n"
        "def later():\n"
        "    import pymongo.errors\n"
    )
    (file,) = synthetic({"ticketstream_x.api": source}).values()

    assert [(item.line, item.module, item.names) for item in file.imports] == [
        (1, "__future__", ("annotations",)),
        (2, "ticketstream_x", ("store",)),
        (3, "ticketstream_x.domain", ("rules",)),
        (5, "pymongo.errors", ()),
    ]


def test_checker_flags_what_the_rules_forbid() -> None:
    tree = synthetic(
        {
            "ticketstream_x.domain": (
                "import json\nfrom pydantic import BaseModel\nfrom ticketstream.contracts import topics\n"
                "from ticketstream_x import rules\nfrom ticketstream_x.store import Store\n"
                "import httpx\nfrom ticketstream.settings import PlatformSettings\n"
            ),
            "ticketstream_x.rules": "import datetime\nfrom ticketstream.contracts.models import Person\n",
            "ticketstream_x.store": "import pymongo\nfrom fastapi import Depends\n",
            "ticketstream_x.api": "import pymongo\nfrom ticketstream_y import domain\n",
        }
    )

    impure = impure_domain_imports(tree)
    assert len(impure) == 3
    assert impure[0].endswith("ticketstream_x/domain.py:5: from ticketstream_x.store import Store")
    assert impure[1].endswith("ticketstream_x/domain.py:6: import httpx")
    assert impure[2].endswith(
        "ticketstream_x/domain.py:7: from ticketstream.settings import PlatformSettings"
    )
    assert [line.rsplit(": ", 1)[1] for line in pymongo_outside_stores(tree.values())] == ["import pymongo"]
    assert pymongo_outside_stores(tree.values())[0].endswith("ticketstream_x/api.py:1: import pymongo")
    assert fastapi_in_domain_or_store(tree.values())[0].endswith(
        "ticketstream_x/store.py:2: from fastapi import Depends"
    )
    assert cross_service_imports(tree.values())[0].endswith(
        "ticketstream_x/api.py:2: from ticketstream_y import domain"
    )


def test_checker_follows_own_domain_level_modules_transitively() -> None:
    tree = synthetic(
        {
            "ticketstream_x.domain": "from ticketstream_x.rules import rule\n",
            "ticketstream_x.rules": "from ticketstream_x import helpers\n",
            "ticketstream_x.helpers": "import aiokafka\n",
        }
    )
    assert [line.rsplit(": ", 1)[1] for line in impure_domain_imports(tree)] == [
        "from ticketstream_x.rules import rule"
    ]


# --- the real tree ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services() -> dict[str, SourceFile]:
    return load_services()


@pytest.fixture(scope="module")
def platform() -> dict[str, SourceFile]:
    return load_tree(PLATFORM_SRC)


def test_the_tree_is_where_the_checks_look(
    services: dict[str, SourceFile], platform: dict[str, SourceFile]
) -> None:
    assert {file.package for file in services.values()} == {
        f"{SERVICE_PREFIX}{name}" for name in SERVICE_NAMES
    }
    assert f"{PLATFORM_PACKAGE}.contracts" in platform
    assert f"{PLATFORM_PACKAGE}.db" in platform


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_has_the_same_file_set(name: str) -> None:
    package = service_src(name) / f"{SERVICE_PREFIX}{name}"
    missing = [f"{module}.py" for module in REQUIRED_MODULES if not (package / f"{module}.py").is_file()]
    assert not missing, f"{package.relative_to(ROOT)} lacks {', '.join(missing)}"
    assert (package / "__init__.py").is_file()


def test_no_service_imports_another_service(services: dict[str, SourceFile]) -> None:
    offences = cross_service_imports(services.values())
    assert not offences, report(offences, "a service imports another service's package")


def test_domain_modules_are_pure(services: dict[str, SourceFile]) -> None:
    assert sum(1 for file in services.values() if file.stem == "domain") == len(SERVICE_NAMES)
    offences = impure_domain_imports(services)
    assert not offences, report(
        offences,
        "domain.py may import only the standard library, pydantic, ticketstream.contracts "
        "and its own package's domain-level modules",
    )


def test_pymongo_only_in_service_stores(services: dict[str, SourceFile]) -> None:
    offences = pymongo_outside_stores(services.values())
    assert not offences, report(offences, "pymongo is imported outside store.py")


def test_fastapi_not_in_domain_or_store(services: dict[str, SourceFile]) -> None:
    offences = fastapi_in_domain_or_store(services.values())
    assert not offences, report(offences, "fastapi/starlette is imported by domain.py or store.py")


def test_platform_library_never_imports_a_service(platform: dict[str, SourceFile]) -> None:
    offences = platform_imports_of_services(platform.values())
    assert not offences, report(offences, "the platform library imports a service package")


def test_contracts_import_nothing_but_stdlib_pydantic_and_themselves(platform: dict[str, SourceFile]) -> None:
    """The wire formats must be importable by any consumer without the platform's IO stack."""
    offences = [
        item.describe()
        for file in platform.values()
        if file.module.startswith(CONTRACTS)
        for item in file.imports
        if not (item.top in STDLIB or item.top in DOMAIN_THIRD_PARTY or item.module.startswith(CONTRACTS))
    ]
    assert not offences, report(offences, "ticketstream.contracts imports outside stdlib/pydantic")
