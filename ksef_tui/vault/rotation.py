"""The file side of a master key rotation: a staged key file left by an interrupted rotation."""

from __future__ import annotations

import os
from pathlib import Path

from ksef_tui.vault.envelope import Vault, VaultError, read_key_file


def finish_interrupted_rotation(key_path: Path, check_blob: bytes) -> bool:
    """If a rotation committed but did not rename its new key file, finish it."""
    staged = key_path.with_name(key_path.name + ".new")
    if not staged.exists():
        return False
    try:
        Vault(read_key_file(staged)).verify_check(check_blob)
    except VaultError:
        return False
    os.replace(staged, key_path)
    return True
