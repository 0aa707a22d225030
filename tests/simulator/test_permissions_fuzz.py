"""No input to ``/permissions/*`` produces a 5xx (the fuzz of ``test_fuzz`` over these routes, with
plausible permission bodies); the contract hook validates every documented answer."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .test_fuzz import _bodies, _header_text, _json_values, _path_text, fuzz_client  # noqa: F401 (fixture)

ROUTES = [
    ("POST", "/permissions/persons/grants"),
    ("POST", "/permissions/entities/grants"),
    ("POST", "/permissions/authorizations/grants"),
    ("POST", "/permissions/indirect/grants"),
    ("POST", "/permissions/subunits/grants"),
    ("POST", "/permissions/eu-entities/administration/grants"),
    ("POST", "/permissions/eu-entities/grants"),
    ("DELETE", "/permissions/common/grants/{ref}"),
    ("DELETE", "/permissions/authorizations/grants/{ref}"),
    ("GET", "/permissions/operations/{ref}"),
    ("GET", "/permissions/attachments/status"),
    ("POST", "/permissions/query/personal/grants"),
    ("POST", "/permissions/query/persons/grants"),
    ("POST", "/permissions/query/subunits/grants"),
    ("POST", "/permissions/query/entities/grants"),
    ("GET", "/permissions/query/entities/roles"),
    ("POST", "/permissions/query/subordinate-entities/roles"),
    ("POST", "/permissions/query/authorizations/grants"),
    ("POST", "/permissions/query/eu-entities/grants"),
    ("POST", "/testdata/attachment"),
    ("POST", "/testdata/attachment/revoke"),
]
_identifier = st.fixed_dictionaries({"type": st.sampled_from(["Nip", "Pesel", "Fingerprint", "AllPartners",
                                                              "InternalId", "NipVatUe", "System", "PeppolId"]),
                                     "value": st.one_of(st.none(), st.text(max_size=70),
                                                        st.sampled_from(["5265877635", "90010112345", "AB" * 32,
                                                                         "5265877635-00013"]))})
_fields = {
    "subjectIdentifier": _identifier, "targetIdentifier": _identifier, "contextIdentifier": _identifier,
    "authorizedIdentifier": _identifier, "authorIdentifier": _identifier, "subunitIdentifier": _identifier,
    "permissions": st.lists(st.one_of(st.sampled_from(["InvoiceRead", "InvoiceWrite", "CredentialsManage"]),
                                      st.fixed_dictionaries({"type": st.text(max_size=20),
                                                             "canDelegate": _json_values})), max_size=3),
    "subjectDetails": _json_values | st.just({"subjectDetailsType": "PersonByIdentifier",
                                              "personById": {"firstName": "Ab", "lastName": "Cd"}}),
    "description": st.text(max_size=300), "queryType": st.text(max_size=40) | st.sampled_from(
        ["PermissionsInCurrentContext", "PermissionsGrantedInCurrentContext", "Granted", "Received"]),
    "permissionState": _json_values, "permissionTypes": _json_values, "permission": _json_values,
    "nip": _json_values, "expectedEndDate": st.text(max_size=12), "euEntityName": _json_values,
}
_permission_bodies = st.one_of(
    _bodies,
    st.fixed_dictionaries({}, optional=_fields).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    route=st.sampled_from(ROUTES),
    ref=_path_text | st.just("0c9a72e8-f344-457f-9c16-7c640eb60242"),
    body=_permission_bodies,
    auth=st.sampled_from(["access", "access", "refresh", "random", "none"]),
    random_token=_header_text,
    query=st.dictionaries(st.sampled_from(["pageSize", "pageOffset"]), _header_text, max_size=2),
)
def test_no_permission_route_answers_5xx(fuzz_client, route, ref, body, auth, random_token, query):  # noqa: F811
    client, access, refresh = fuzz_client
    method, template = route
    headers = {"Content-Type": "application/json"}
    token = {"access": access, "refresh": refresh, "random": random_token, "none": None}[auth]
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    raw_headers = {k: v.encode("latin-1") for k, v in headers.items()}
    response = client.request(method, template.replace("{ref}", ref), content=body, headers=raw_headers,
                              params=query)
    event(f"{response.status_code}")
    assert response.status_code < 500, (method, template, response.status_code, response.text[:300])
