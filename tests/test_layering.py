"""The import rules of docs/architecture.md, read statically (ast) from every module: the two
sides never import each other, both stand on transport/ and protocols/, protocols/ does no I/O,
the `storegw` command is imported by nothing, and no modules import each other in a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocols", "transport", "edge", "hub", "storegw")

# what each package may import of the project's own (itself included)
ALLOWED = {
    "protocols": {"protocols"},
    "transport": {"transport", "protocols"},
    "edge": {"edge", "transport", "protocols", "firmware_config"},
    "hub": {"hub", "transport", "protocols"},
    "storegw": {"storegw", "edge", "hub", "transport", "protocols"},
}
# protocols/ is pure: bytes and values in, bytes and values out; the sides do the I/O
NO_IO_MODULES = {"os", "socket", "subprocess", "pathlib", "shutil", "tempfile", "ssl"}
# HTTP is the routers' and the app's: a hub context's domain (service, models, its RPC methods)
# raises its own errors, and hub/http_errors.py maps them to statuses
HTTP_MODULES = {"fastapi", "starlette"}
DOMAIN_MODULES = {"service", "models", "rpc"}  # hub/<context>/<these>.py
# cycles tolerated for now (pairs of module groups); none: payments registers its device action
KNOWN_CYCLES: list[set[str]] = []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found[module_name(path)] = (path, ast.parse(path.read_text(), str(path)))
    return found


MODULES = sources()


def type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (they never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def imports(name: str, path: Path, tree: ast.Module) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import that runs, relative ones resolved; `from a
    import b` names a.b when that is a module."""
    skip = type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                yield (sub if sub in MODULES else mod), node.lineno


def test_every_package_imports_only_what_sits_beneath_it() -> None:
    wrong = []
    for name, (path, tree) in MODULES.items():
        allowed = ALLOWED[name.split(".")[0]]
        for mod, line in imports(name, path, tree):
            top = mod.split(".")[0]
            own = top in ALLOWED or top == "firmware_config"
            if own and top not in allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert not wrong, "imports across the layers:\n" + "\n".join(wrong)


def test_nothing_imports_the_storegw_command() -> None:
    users = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("storegw", ".venv", "build") or rel.parts[0].startswith("."):
            continue
        for mod, line in imports(module_name(path), path, ast.parse(path.read_text())):
            if mod.split(".")[0] == "storegw":
                users.append(f"{rel}:{line} imports {mod}")
    assert not users, "the command wires the sides; nothing builds on it:\n" + "\n".join(users)


def test_protocols_do_no_io() -> None:
    found = []
    for name, (path, tree) in MODULES.items():
        if not name.startswith("protocols"):
            continue
        rel = path.relative_to(ROOT)
        for mod, line in imports(name, path, tree):
            if mod.split(".")[0] in NO_IO_MODULES:
                found.append(f"{rel}:{line} imports {mod}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("open", "io.open"):
                found.append(f"{rel}:{node.lineno} opens a file")
            if isinstance(node, ast.Attribute) and ast.unparse(node) in ("os.environ", "os.getenv"):
                found.append(f"{rel}:{node.lineno} reads the environment")
    why = "protocols/ takes values and returns values; I/O is the sides'"
    assert not found, why + ":\n" + "\n".join(found)


def test_hub_domain_modules_know_nothing_of_http() -> None:
    found = []
    for name, (path, tree) in MODULES.items():
        parts = name.split(".")
        if parts[0] != "hub" or len(parts) != 3 or parts[2] not in DOMAIN_MODULES:
            continue
        for mod, line in imports(name, path, tree):
            if mod.split(".")[0] in HTTP_MODULES:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert not found, "domain code raises its own errors, not HTTP:\n" + "\n".join(found)


def test_hub_errors_carry_no_http_status() -> None:
    """An error class says what went wrong; hub/http_errors.py's STATUS says how it answers."""
    found = []
    for name, (path, tree) in MODULES.items():
        if not name.startswith("hub."):
            continue
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if not any(ast.unparse(b).endswith(("Error", "Exception")) for b in cls.bases):
                continue
            for stmt in cls.body:
                targets = (
                    stmt.targets if isinstance(stmt, ast.Assign)
                    else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
                )  # fmt: skip
                if any(isinstance(t, ast.Name) and "status" in t.id for t in targets):
                    found.append(f"{path.relative_to(ROOT)}:{stmt.lineno} {cls.name}")
    assert not found, "error classes with an HTTP status:\n" + "\n".join(found)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is a few hundred modules deep at most)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
    return groups


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, (path, tree) in MODULES.items():
        for mod, _ in imports(name, path, tree):
            if mod in MODULES and mod != name:
                graph[name].add(mod)
    return graph


def known(group: set[str]) -> bool:
    return any(
        all(any(m == p or m.startswith(p + ".") for p in pair) for m in group)
        for pair in KNOWN_CYCLES
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [{"a", "b", "c"}]


def test_no_modules_import_each_other_in_a_cycle() -> None:
    cycles = [sorted(g) for g in strongly_connected(import_graph()) if not known(g)]
    assert not cycles, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)
