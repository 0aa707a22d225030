"""Everything the gateway imports on its first KSeF call, imported at once: :func:`import_all`.

The gateway's modules import their libraries (cryptography, lxml, httpx, ksef-client) where they
are first needed, so the panel starts without them. The panel imports them all in a thread once
nobody types (``ui/common/gc_policy.py``): the first "Test authorization" then does not wait for
them, and the collector can set their objects aside for good in one step, instead of walking them
in its next full pass (about 37,000 objects, 20-25 ms of it).
``tests/ksef/test_preload.py`` checks that a token test and a certificate authorization import
nothing more after it.
"""

from __future__ import annotations

from importlib import import_module

#: ours and the libraries our modules import inside functions (where they are first needed)
MODULES = (
    "ksef_tui.ksef.gateway",
    "ksef_tui.ksef.xades",
    "ksef_tui.ksef.certificates",
    "ksef_tui.ksef.signedfile",
    "ksef_tui.ksef.csr",
    "ksef_tui.ksef.limits",
    "ksef_tui.ksef.pool",
    "ksef_tui.ksef.permissions",
    "ksef_tui.vault.envelope",
    "cryptography.exceptions",
    "cryptography.x509",
    "cryptography.hazmat.primitives.hashes",
    "cryptography.hazmat.primitives.serialization",
    "cryptography.hazmat.primitives.serialization.pkcs12",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "cryptography.hazmat.primitives.ciphers.aead",
    "lxml.etree",
    "ksef_client.services.crypto",
    "ksef_client.services.xades",
    "xmlsec",  # ksef-client's XAdES signing imports it when it first signs
)


def import_all() -> None:
    """Import :data:`MODULES` and what httpx imports on its first connection (slow: run it in a thread)."""
    for name in MODULES:
        import_module(name)
    from ksef_tui.ksef.http import warm_imports

    warm_imports()
