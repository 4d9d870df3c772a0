"""docs/RELIABILITY.md is generated from the tests' promise markers and kept true: a promise added,
changed or removed in a test without regenerating the document fails here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

import reliability  # noqa: E402


def test_the_document_is_what_the_tests_promise() -> None:
    expected = reliability.render(reliability.collect())
    assert reliability.DOC.read_text() == expected, "run: python scripts/reliability.py"


def test_every_boundary_has_a_promise_with_a_fault_tried() -> None:
    promises = reliability.collect()
    covered = {p.boundary for p in promises}
    assert covered == set(reliability.BOUNDARIES), set(reliability.BOUNDARIES) - covered
    assert all(p.tried.strip() and p.says.strip() for p in promises)


def test_a_promise_on_an_unknown_boundary_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\n\n"
        '@pytest.mark.promise("the moon", "a meteor")\n'
        "def test_it():\n    pass\n"
    )
    with pytest.raises(SystemExit, match="unknown boundary 'the moon'"):
        reliability.collect(tmp_path)


def test_the_promise_is_says_then_the_docstring_then_the_name(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\nSHARED = 'Shared words.'\n\n\n"
        '@pytest.mark.promise("CLI", "one", says=SHARED)\n'
        "def test_a():\n    pass\n\n\n"
        '@pytest.mark.promise("CLI", "two")\n'
        'def test_b():\n    """Docstring first. Then more."""\n\n\n'
        '@pytest.mark.promise("CLI", "three")\n'
        "def test_the_name_reads_as_a_sentence():\n    pass\n"
    )
    says = [p.says for p in reliability.collect(tmp_path)]
    assert says == ["Shared words.", "Docstring first.", "The name reads as a sentence."]
