"""ksef-tui: a keyboard-driven panel that switches KSeF on for client companies
and gets every user of those companies authorized in KSeF."""

__version__ = "0.1.0"
