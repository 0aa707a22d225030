"""The contract itself: the spec the suite validates against, and the simulator's routes in it."""

from __future__ import annotations

import re

import pytest

from tests.contract.openapi import (
    SPEC_PATHS,
    ContractError,
    documented_codes,
    match_template,
    spec,
    validate_response,
)

pytestmark = pytest.mark.skipif(not SPEC_PATHS["2.9.0"].is_file(), reason="shared/ksef spec not present")


def test_the_suite_validates_against_api_2_9_0():
    assert "**Wersja API:** 2.9.0" in spec()["info"]["description"]
    assert "CollectiveIdentifierManage" in spec()["components"]["schemas"]["TokenPermissionType"]["enum"]


@pytest.mark.parametrize("mode", ["test", "strict"])
def test_every_route_of_the_simulator_is_an_operation_of_2_9(mode):
    from starlette.routing import Mount

    from ksef_tui.simulator import SimulatorConfig, create_app

    app = create_app(SimulatorConfig(mode=mode))
    mount = next(r for r in app.routes if isinstance(r, Mount))
    served = 0
    for route in mount.routes:
        concrete = re.sub(r"\{[^}]+\}", "0123456789ABCDEF", route.path)  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert match_template(method, concrete) is not None, f"{method} {route.path}"  # type: ignore[attr-defined]
            served += 1
    # 43 operations (19 of them /permissions/*), and 18 of /testdata on TEST only
    assert served == (61 if mode == "test" else 43)


def test_rate_limits_show_what_changed_from_2_6_to_2_9():
    """Kept on 2.6 only here: a 2.6-shaped answer fails 2.9 (required groups) and the reverse."""
    old = {g: {"perSecond": 10, "perMinute": 30, "perHour": 120} for g in (
        "onlineSession", "batchSession", "invoiceSend", "invoiceStatus", "sessionList", "sessionInvoiceList",
        "sessionMisc", "invoiceMetadata", "invoiceExport", "invoiceExportStatus", "invoiceDownload", "other")}
    new = {**old, "onlineSessionClose": old["other"], "batchSessionClose": old["other"],
           "collectiveIdentifier": old["other"], "anonymous": {"perSecond": 60, "perMinute": -1, "perHour": -1},
           "global": {"perSecond": 75, "perMinute": -1, "perHour": -1}}
    validate_response("GET", "/rate-limits", 200, old, version="2.6.0")
    validate_response("GET", "/rate-limits", 200, new)
    with pytest.raises(ContractError, match="'anonymous' is a required property"):
        validate_response("GET", "/rate-limits", 200, old)
    with pytest.raises(ContractError, match="Additional properties are not allowed"):
        validate_response("GET", "/rate-limits", 200, new, version="2.6.0")


def test_documented_codes_are_read_from_the_400_table():
    assert documented_codes("POST", "/auth/ksef-token") == {21001, 21111, 21470, 21405}
    assert documented_codes("POST", "/auth/ksef-token", version="2.6.0") == {21111, 21470, 21405}
    assert documented_codes("GET", "/rate-limits") is None
