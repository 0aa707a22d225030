"""Result types shared by the services' serial operations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SerialResult:
    """Outcome of a serial operation over a set of ids (one transaction)."""

    changed: list[int]
    unchanged: list[int]  # already in the requested state
    missing: list[int]  # ids that no longer exist
    # changed by someone else since the caller saw them (their version moved on) and not in
    # the requested state: left as the other administrator saved them
    skipped: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.changed) + len(self.unchanged) + len(self.missing) + len(self.skipped)


#: how many hidden rows a preview names (the rest are counted)
PREVIEW_NAMES = 5
#: ids per query of a preview
PREVIEW_CHUNK = 5_000


@dataclass(frozen=True)
class SerialPreview:
    """What a serial operation over ``total`` ids will do, told before it runs: the confirmation
    lists it, and the result says the same afterwards."""

    total: int
    to_change: int  # not yet in the requested state
    already: int  # already in it: nothing to do
    missing: int  # no longer exist
    hidden: int = 0  # selected but not in the list as filtered now
    hidden_names: tuple[str, ...] = ()  # the first few hidden rows, named

    @property
    def visible(self) -> int:
        return self.total - self.hidden


def preview_flag(db: Any, ids: Iterable[int], hidden: Iterable[int], flag: bool, id_col: Any, flag_col: Any,
                 names: Callable[[list[int]], Any], label: Callable[..., str]) -> SerialPreview:
    """A :class:`SerialPreview` for setting the boolean ``flag_col`` to ``flag`` on the rows ``ids`` of
    ``id_col``'s table; ``names(hidden_ids)`` selects the label columns of hidden rows, in list order,
    and ``label(*columns)`` words one."""
    from sqlalchemy import func, select

    from ksef_tui.services.id_sets import runs_join, sorted_ids

    wanted = sorted_ids(ids)
    hidden_ids = sorted(set(map(int, hidden)).intersection(wanted))
    already = present = 0
    with db.engine.connect() as conn:
        counted = select(flag_col, func.count()).group_by(flag_col)
        lowest, highest = conn.execute(select(func.min(id_col), func.max(id_col))).one()
        everything = (bool(wanted) and lowest is not None and wanted[0] <= lowest and highest <= wanted[-1]
                      and wanted[-1] - wanted[0] == len(wanted) - 1)
        joined = None if everything else runs_join(conn, id_col, wanted)
        parts: list[tuple[Any, dict[str, str]]]
        if everything:  # one run of ids holding every row (select all): all rows counted, by an index
            parts = [(counted, {})]
        elif joined is not None:  # the whole selection in one statement (SQLite), read as ranges of ids
            parts = [(counted.select_from(joined[0]), joined[1])]
        else:
            parts = [(counted.where(id_col.in_(wanted[start:start + PREVIEW_CHUNK])), {})
                     for start in range(0, len(wanted), PREVIEW_CHUNK)]
        for query, params in parts:
            for state, n in conn.execute(query, params):
                present += n
                already += n if bool(state) == flag else 0
        shown = tuple(label(*row) for row in conn.execute(names(hidden_ids[:PREVIEW_CHUNK]).limit(PREVIEW_NAMES)))
    return SerialPreview(len(wanted), present - already, already, len(wanted) - present, len(hidden_ids), shown)
