"""Runs of consecutive ids (services/id_sets.py), how a serial operation tells the database its ids."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from ksef_tui.services.id_sets import SCATTERED, dense_runs, id_runs, run_pieces, single_chunks, sorted_ids

id_lists = st.lists(st.integers(min_value=-50, max_value=400), max_size=300).map(lambda v: sorted(set(v)))


@given(id_lists)
def test_runs_hold_exactly_the_ids_and_are_maximal(ids):
    runs = id_runs(ids)
    assert [i for lo, hi in runs for i in range(lo, hi + 1)] == ids
    assert all(lo <= hi for lo, hi in runs)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(runs))  # a gap between any two


@given(id_lists, st.integers(min_value=1, max_value=50))
def test_pieces_make_chunks_of_the_size_asked(ids, size):
    pieces, chunks = run_pieces(id_runs(ids), size)
    assert [i for lo, hi in pieces for i in range(lo, hi + 1)] == ids
    assert [c[0] for c in chunks] == ([0, *(c[1] + 1 for c in chunks[:-1])] if chunks else [])  # consecutive
    assert (chunks[-1][1] if chunks else -1) == len(pieces) - 1
    done = 0
    for number, (first, last, up_to) in enumerate(chunks):
        n = sum(hi - lo + 1 for lo, hi in pieces[first:last + 1])
        done += n
        assert up_to == done
        assert n == size or (number == len(chunks) - 1 and 0 < n <= size)


def test_a_contiguous_million_is_one_run_in_chunks_of_twenty_thousand():
    ids = range(1, 1_000_001)
    assert id_runs(ids) == [(1, 1_000_000)]
    pieces, chunks = run_pieces(id_runs(ids), 20_000)
    assert len(pieces) == len(chunks) == 50 and chunks[-1] == (49, 49, 1_000_000)


@given(st.lists(st.integers(min_value=-50, max_value=400) | st.booleans(), max_size=200),
       st.sampled_from([list, set, frozenset, iter, lambda v: sorted(set(v)), lambda v: [str(int(i)) for i in v]]))
def test_sorted_ids_is_the_sorted_distinct_ints(values, shape):
    given_ids = shape(values)
    assert sorted_ids(given_ids) == sorted(set(map(int, values)))


@given(id_lists)
def test_dense_runs_are_the_runs_unless_too_many(ids):
    runs = id_runs(ids)
    dense = dense_runs(ids)
    assert dense == (runs if len(runs) <= max(1, len(ids) // SCATTERED) else None)


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=50))
def test_single_chunks_are_run_pieces_of_single_ids(n, size):
    ids = list(range(0, 2 * n, 2))  # no two consecutive: one piece per id
    assert single_chunks(n, size) == run_pieces(id_runs(ids), size)[1]
