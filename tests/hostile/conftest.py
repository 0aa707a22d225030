"""The hostile corpus reuses the user's-KSeF-screen fixtures (a small panel database, the simulators)."""

from tests.ui_ksef.conftest import panel, sims  # noqa: F401  (fixtures)
