"""The one formatter: quantities far below what ``num`` shows (an additivity error against its
tolerance) keep their size, and a missing one is an en dash."""

from __future__ import annotations

from bantay.notify import fmt


def test_tiny_quantities_keep_their_size() -> None:
    assert fmt.num(1.7763568394002505e-15) == "0.000"  # what ``num`` would say: nothing
    assert fmt.tiny(1.7763568394002505e-15) == "1.8e-15"
    assert fmt.tiny(1e-6) == "1.0e-06" and fmt.tiny(2.5e-3, digits=2) == "2.50e-03"
    assert fmt.tiny(0.0) == "0" and fmt.tiny(0) == "0"
    for missing in (None, float("nan"), "x", True):
        assert fmt.tiny(missing) == fmt.MISSING
    assert fmt.FILTERS["tiny"] is fmt.tiny
