"""KSeF certificates by type (PROTOCOL.md §6): Authentication (logs in) and Offline (signs QR code II
of offline invoices; can never log in), and the KSeF statuses after which one no longer works."""

from __future__ import annotations

AUTHENTICATION = "Authentication"
OFFLINE = "Offline"
#: the types KSeF issues, in the order the panel offers them
CERTIFICATE_TYPES = (AUTHENTICATION, OFFLINE)
#: KSeF statuses after which a certificate no longer works
DEAD_STATUSES = ("Revoked", "Blocked", "Expired")
