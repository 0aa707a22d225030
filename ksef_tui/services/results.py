"""Result types shared by the services' serial operations."""

from __future__ import annotations

from dataclasses import dataclass, field


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
