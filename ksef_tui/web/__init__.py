"""The client portal in a browser: ``ksef-tui serve``.

``server`` runs textual-serve's web server (aiohttp) with what the portal adds: a session
cookie, a cap on sessions, an idle timeout, one log line per session start and end, a
health endpoint, a one-time upload route, security headers. Each browser session is one
process (``session``: the panel at its login screen). ``inbox`` is the little file protocol
by which an upload reaches the session that asked for it. Nothing here imports Textual
except ``session`` (the app process).
"""
