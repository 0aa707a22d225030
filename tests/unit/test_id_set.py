"""IdSet (ui/common/id_set.py), the list's selection: it behaves as a set of ints does."""

from hypothesis import given
from hypothesis import strategies as st

from ksef_tui.ui.common.id_set import BUCKET, IdSet

ids = st.integers(min_value=1, max_value=5 * BUCKET)
ops = st.lists(st.tuples(st.sampled_from(["add", "discard", "update", "toggle", "clear"]),
                         st.lists(ids, max_size=40)), max_size=30)


@given(st.lists(ids, max_size=200), ops)
def test_it_behaves_as_a_set(start, steps):
    mine, model = IdSet(start), set(start)
    for op, values in steps:
        if op == "add":
            for v in values:
                mine.add(v)
                model.add(v)
        elif op == "discard":
            for v in values:
                mine.discard(v)
                model.discard(v)
        elif op == "update":
            mine.update(IdSet(values) if len(values) % 2 else values)
            model.update(values)
        elif op == "toggle":
            for key, part in IdSet(values).buckets():
                mine.toggle_bucket(key, part)
            model ^= set(values)
        else:
            mine.clear()
            model.clear()
        assert len(mine) == len(model)
        assert mine == model and model == mine
        assert set(mine) == model
        assert all(v in mine for v in model)
    assert mine.difference(start) == model - set(start)


def test_never_shows_its_ids():
    assert repr(IdSet(range(1, 1001))) == "IdSet(<1000 ids>)"
    assert "x" not in IdSet([1]) and 2 not in IdSet([1])


def test_no_garbage_collection_walks_the_ids():
    import gc

    chosen = IdSet(range(1, 3 * BUCKET))
    chosen.add(5 * BUCKET)
    assert not any(gc.is_tracked(bucket) for _, bucket in chosen.buckets())
