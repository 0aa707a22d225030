"""Login timing: an unknown login against a wrong password (issue 12 item 5).

    python -m benchmarks.bench_login [--attempts 20] [--database URL]

Times ``AccountService.login`` with the production scrypt cost (n=2**15, r=8, p=1) for
``--attempts`` unknown logins and as many wrong passwords for a real account, each from its own
source address (so no attempt meets a block), with the pause after a wrong password left out
(it is the same for both by construction, and would only hide the difference). Prints both
medians and their difference; beside them, the same for the previous code path (an unknown
login hashed a dummy password and then checked it: two scrypt runs).
The acceptance bar: the medians differ by less than 20%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _medians_ms(a, b, attempts: int) -> tuple[float, float]:
    """Medians of ``a(i)`` and ``b(i)``, run alternately (load on the machine hits both alike)."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(attempts):
        for fn, out in ((a, times[0]), (b, times[1])):
            start = time.perf_counter()
            fn(i)
            out.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)

    from ksef_tui.services.accounts import AccountService, LoginFailed, hash_secret, verify_secret
    from ksef_tui.services.actor import Actor
    from ksef_tui.services.users import UserInput, UserService
    from ksef_tui.store.engine import open_database

    with tempfile.TemporaryDirectory(prefix="ksef-bench-login-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        db = open_database(url)
        try:
            admin = Actor.local_admin("bench")
            user = UserService(db).create(admin, UserInput(login="anna", full_name="Anna Nowak"))
            accounts = AccountService(db, sleep=lambda _s: None)
            accounts.set_password(admin, user.id, "The-Right-Password-2026")

            def attempt(login: str):
                def run(i: int) -> None:
                    try:
                        accounts.login(login, "a-wrong-password", source=f"bench:{login}:{i}")
                    except LoginFailed:
                        return
                    raise AssertionError("a wrong password logged in")
                return run

            attempt("warm-up")(0)
            unknown, wrong = _medians_ms(attempt("nobody-at-all"), attempt("anna"), args.attempts)

            def previous_unknown(i: int) -> None:  # what an unknown login cost before: two scrypt runs
                verify_secret("a-wrong-password", hash_secret("x" * 8))

            stored = hash_secret("The-Right-Password-2026")
            prev_unknown, prev_wrong = _medians_ms(
                previous_unknown, lambda i: verify_secret("a-wrong-password", stored), args.attempts)
        finally:
            db.dispose()
    diff = abs(unknown - wrong) / min(unknown, wrong) * 100
    prev_diff = abs(prev_unknown - prev_wrong) / min(prev_unknown, prev_wrong) * 100
    print(f"login timing, median of {args.attempts} attempts each, scrypt n=2**15 r=8 p=1, {db.dialect}:")
    print(f"  now:      unknown login {unknown:7.1f} ms   wrong password {wrong:7.1f} ms   difference {diff:5.1f}%"
          f"  ({'within' if diff < 20 else 'OVER'} the 20% bar)")
    print(f"  previous: unknown login {prev_unknown:7.1f} ms   wrong password {prev_wrong:7.1f} ms   "
          f"difference {prev_diff:5.1f}%  (its scrypt runs only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
