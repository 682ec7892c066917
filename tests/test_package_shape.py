"""The shape of the package: every module at most 400 lines, and lstmkit's own modules imported
at the top of a file, never inside a function (a function-local import hides a dependency, and
usually an import cycle, from lint-imports). Optional third-party packages (torch, matplotlib)
may still be imported where they are used."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "lstmkit"

KNOWN: set[tuple[str, str]] = set()  # (module, imported name) exceptions: none left


def _local_imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), str(path))
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name == "lstmkit" or name.startswith("lstmkit."):
                    yield name, node.lineno


def test_no_function_local_imports_of_lstmkit():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for name, line in _local_imports(path):
            if (rel, name) not in KNOWN:
                found.append(f"lstmkit/{rel}:{line} imports {name} inside a function")
    assert not found, "\n".join(found)


def test_every_module_is_at_most_400_lines():
    known: set[str] = set()
    long = [
        f"lstmkit/{path.relative_to(PACKAGE).as_posix()}: {n} lines"
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > 400
        and path.relative_to(PACKAGE).as_posix() not in known
    ]
    assert not long, "\n".join(long)
