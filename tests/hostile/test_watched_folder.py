"""The watched folder of the token → certificate move: a FIFO named ``*.xml`` hung the watcher (Esc
could not stop it), a symlink to ``/dev/zero`` ended in MemoryError, a 300 MB file was read whole. With
all three in the folder, the real signed file is still picked up and the row done, within seconds."""

from __future__ import annotations

import os
import threading

from ksef_tui.services.ksef.bulk import OK
from tests.bulk.conftest import bulk_ctx, give_rights, limited_sim, seed  # noqa: F401  (fixtures)
from tests.bulk.test_migration import _move


def test_a_fifo_dev_zero_and_a_huge_file_in_the_watched_folder_are_passed_over(bulk_ctx, limited_sim,  # noqa: F811
                                                                              tmp_path):
    sim = limited_sim.sim
    targets = seed(bulk_ctx, sim, 1)
    give_rights(sim, targets, bulk_ctx)
    folder = tmp_path / "pz"
    folder.mkdir()
    os.mkfifo(folder / "0-fifo.xml")
    (folder / "1-zero.xml").symlink_to("/dev/zero")
    with open(folder / "2-huge.xml", "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: 300 MB to read, nothing on the disk
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_move(bulk_ctx, targets, folder, sim)), daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the watcher hung on a file that is not a signed file"
    report = outcome[0][0]  # type: ignore[index]
    assert report.counts[OK] == 1, [r.message for r in report.results]
