"""docs/RELIABILITY.md from the tests themselves: what each boundary promises, which test proves
it, and which fault or bad input it was tried with.

A test states a promise with ``@pytest.mark.promise(boundary, tried, says=...)``; the promise is
``says``, else the first sentence of its docstring, else its name read as a sentence. Run ``python scripts/reliability.py``
to rewrite the document; ``tests/unit/scripts/test_reliability.py`` fails when it is stale.

    python scripts/reliability.py [--check]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"
# The boundaries in the order the document lists them, and what each one is.
BOUNDARIES = {
    "data contract": "raw deliveries before anything is materialized",
    "online store": "the Feast online store (Redis) that serving reads features from",
    "staged files": "the files a training run evaluated, approved and published",
    "serving store": "model versions and the serving pointer in S3",
    "registry": "the model registry database",
    "connections": "Airflow connections and service URLs",
    "e-mail": "the drift, outcome and deadline e-mails over SMTP",
    "UI actions": "the bantay pages' forms inside Airflow",
    "CLI": "the bantay command line",
}


@dataclass(frozen=True)
class Promise:
    boundary: str
    tried: str
    says: str
    test: str


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level string constants, so a promise shared by many tests is written once."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return constants.get(node.id) if isinstance(node, ast.Name) else None


def _marks(node: ast.FunctionDef, constants: dict[str, str]) -> list[tuple[str, str, str | None]]:
    found = []
    for deco in node.decorator_list:
        if not (isinstance(deco, ast.Call) and ast.unparse(deco.func) == "pytest.mark.promise"):
            continue
        args = [_text(a, constants) for a in deco.args]
        says = {k.arg: _text(k.value, constants) for k in deco.keywords}
        if len(args) != 2 or None in args:
            raise SystemExit(f"{node.name}: use @pytest.mark.promise(boundary, tried, says=...)")
        found.append((args[0], args[1], says.get("says")))
    return found


def _says(node: ast.FunctionDef) -> str:
    doc = ast.get_docstring(node)
    if doc:
        first = " ".join(doc.split("\n\n")[0].split())
        return first.split(". ")[0].rstrip(".") + "."
    words = node.name.removeprefix("test_").replace("_", " ")
    return words[:1].upper() + words[1:] + "."


def collect(root: Path = ROOT) -> list[Promise]:
    """Every promise stated in tests/, in file and line order."""
    out = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for boundary, tried, says in _marks(node, constants):
                if boundary not in BOUNDARIES:
                    raise SystemExit(
                        f"{path.relative_to(root)}::{node.name}: unknown boundary {boundary!r}; "
                        f"one of {list(BOUNDARIES)}"
                    )
                test = f"{path.relative_to(root).as_posix()}::{node.name}"
                out.append(Promise(boundary, tried, says or _says(node), test))
    return out


def render(promises: list[Promise]) -> str:
    by = defaultdict(list)
    for p in promises:
        by[p.boundary].append(p)
    lines = [
        "# Reliability: what each boundary promises, and the test that proves it",
        "",
        "Generated from the tests by `python scripts/reliability.py` (each test marked",
        "`@pytest.mark.promise(boundary, tried)`); do not edit by hand: a unit test fails when this",
        "file and the tests disagree. A promise is the marker's `says`, the first sentence of the",
        "test's docstring, or its name; *tried with* is the fault or bad input the test puts to it.",
        "",
    ]
    for boundary, what in BOUNDARIES.items():
        rows = by.get(boundary, [])
        lines += [f"## {boundary}: {what}", ""]
        if not rows:
            lines += ["No test states a promise here yet.", ""]
            continue
        lines += ["| Promise | Tried with | Test |", "|---|---|---|"]
        for p in rows:
            says = p.says.replace("|", "\\|")
            lines.append(f"| {says} | {p.tried} | `{p.test}` |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is stale")
    args = parser.parse_args(argv)
    text = render(collect())
    if args.check:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/reliability.py")
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
