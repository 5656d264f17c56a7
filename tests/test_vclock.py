from __future__ import annotations

from hypothesis import given, strategies as st

from sneakersync.wire import vclock
from sneakersync.wire.vclock import Order

vv = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 5), max_size=3)


def test_compare_cases() -> None:
    assert vclock.compare({"a": 1}, {"a": 1}) is Order.EQUAL
    assert vclock.compare({"a": 1}, {"a": 2}) is Order.BEFORE
    assert vclock.compare({"a": 2, "b": 1}, {"a": 2}) is Order.AFTER
    assert vclock.compare({"a": 2}, {"b": 1}) is Order.CONCURRENT


@given(vv, vv)
def test_merge_dominates_both(a: dict[str, int], b: dict[str, int]) -> None:
    m = vclock.merge(a, b)
    assert vclock.dominates(m, a) and vclock.dominates(m, b)
    assert vclock.compare(a, b) is vclock.compare(b, a).__class__(
        {"before": "after", "after": "before"}.get(vclock.compare(b, a).value,
                                                   vclock.compare(b, a).value))


@given(vv, st.sampled_from(["a", "b", "c"]), st.integers(6, 9))
def test_advance_is_strictly_after(a: dict[str, int], dev: str, n: int) -> None:
    assert vclock.compare(vclock.advance(a, dev, n), a) is Order.AFTER
