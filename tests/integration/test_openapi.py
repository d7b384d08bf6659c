"""openapi.yaml is valid, names every outcome and status of the outcome table, and describes what
the real handler answers over HTTP for every outcome the sandbox can produce."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate as validate_openapi

from cashout_cancel.cancel.outcomes import OUTCOME_TABLE, Outcome
from cashout_cancel.cancel.service import CancelService
from local.api import LocalApi
from local.d24_sandbox import D24Sandbox, Fault
from local.function import local_function

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.yaml"
ROUTE = "/cashouts/{cashout_id}/cancel"
Arrange = Callable[[D24Sandbox, pytest.MonkeyPatch], None]


@cache
def document() -> dict[str, Any]:
    """openapi.yaml, parsed."""
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def documented_response(status: int) -> dict[str, Any]:
    """The response object documented for `status` on the route, its $ref resolved."""
    response: dict[str, Any] = document()["paths"][ROUTE]["post"]["responses"][str(status)]
    while "$ref" in response:
        response = document()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def body_validator(status: int) -> jsonschema.Draft202012Validator:
    """A validator for the JSON body documented for `status` (OpenAPI 3.1 = JSON Schema 2020-12)."""
    schema = documented_response(status)["content"]["application/json"]["schema"]
    # The components ride along so that "#/components/..." references resolve in place.
    return jsonschema.Draft202012Validator({**schema, "components": document()["components"]})


def documented_outcomes(status: int) -> set[str]:
    """The outcomes the response documented for `status` admits, in a body with every field."""
    validator = body_validator(status)
    return {
        outcome.value
        for outcome in Outcome
        if validator.is_valid(
            {
                "statusCode": status,
                "outcome": outcome.value,
                "cashout_id": 1,
                "external_id": "e",
                "cashout_status": 2,
                "cashout_status_description": "Canceled",
                "message": "m",
                "upstream": {"http_status": 412, "code": 510, "message": None},
            }
        )
    }


# The document


def test_the_document_is_valid_openapi() -> None:
    validate_openapi(document())
    assert document()["openapi"].startswith("3.")


def test_the_outcome_enum_is_exactly_the_outcomes_of_the_code() -> None:
    enum = document()["components"]["schemas"]["Outcome"]["enum"]
    assert sorted(enum) == sorted(outcome.value for outcome in Outcome)


def test_each_outcome_is_documented_under_its_status_code_and_no_other() -> None:
    # Given the outcome table in code
    expected: dict[int, set[str]] = {}
    for outcome, (status, _) in OUTCOME_TABLE.items():
        expected.setdefault(status, set()).add(outcome.value)
    # Then each of its status codes is a documented response admitting exactly its outcomes
    assert {status: documented_outcomes(status) for status in expected} == expected


def test_the_route_path_parameter_and_body_are_as_validated() -> None:
    operation = document()["paths"][ROUTE]["post"]
    (parameter,) = operation["parameters"]
    assert parameter["schema"]["pattern"] == "^[1-9][0-9]{0,18}$"
    body = document()["components"]["schemas"]["CancelRequest"]
    assert body["required"] == ["external_id"]
    assert body["properties"]["external_id"] | {"description": ""} == {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "description": "",
    }
    assert operation["security"] if "security" in operation else document()["security"]


def test_a_body_of_another_status_is_refused() -> None:
    # The per-status schemas discriminate: a NOT_FOUND body is not a valid 200 or 409
    not_found = {"statusCode": 404, "outcome": "NOT_FOUND", "message": "m"}
    assert body_validator(404).is_valid(not_found)
    assert not body_validator(200).is_valid(not_found)
    assert not body_validator(409).is_valid({**not_found, "statusCode": 409})
    assert not body_validator(404).is_valid({**not_found, "surprise": 1})


def test_the_examples_match_their_schemas() -> None:
    for status in (200, 409):
        content = documented_response(status)["content"]["application/json"]
        body_validator(status).validate(content["example"])


# The real handler's answers


@dataclass(frozen=True)
class Case:
    """One request, what to arrange first, and the outcome the handler must answer."""

    outcome: Outcome
    method: str = "POST"
    path: str = "/cashouts/1001/cancel"
    json: Any = field(default_factory=lambda: {"external_id": "ext-1001"})
    data: str | None = None
    arrange: Arrange | None = None


def _inject(fault: Fault, endpoint: Any = "cancel", times: int = 1) -> Arrange:
    return lambda d24, _: d24.inject(fault, endpoint, times)


def _rotate_password(d24: D24Sandbox, _: pytest.MonkeyPatch) -> None:
    d24.set_credentials(password="rotated-elsewhere")


def _hang_everything(d24: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("D24_MAX_ATTEMPTS", "1")
    d24.inject(Fault.hang(), "any", times=5)


def _missing_secret(_: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D24_SECRET_ID", "cashout-cancel/no-such-secret")


def _merchant_prefix(_: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D24_MERCHANT_SECRET_PREFIX", "cashout-cancel/d24/")


def _a_bug(_: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(CancelService, "cancel", broken)


def _post(cashout_id: int) -> dict[str, Any]:
    return {"path": f"/cashouts/{cashout_id}/cancel", "json": {"external_id": f"ext-{cashout_id}"}}


CASES = {
    "cancelled": Case(Outcome.CANCELLED),
    "cancelled-on-hold": Case(Outcome.CANCELLED, **_post(2005)),
    "already-cancelled": Case(Outcome.ALREADY_CANCELLED, **_post(2002)),
    "not-found": Case(Outcome.NOT_FOUND, json={"external_id": "someone-else"}),
    "not-cancellable-completed": Case(Outcome.NOT_CANCELLABLE, **_post(2001)),
    "not-cancellable-rejected": Case(Outcome.NOT_CANCELLABLE, **_post(2003)),
    "invalid-no-body": Case(Outcome.INVALID_REQUEST, json=None),
    "invalid-not-json": Case(Outcome.INVALID_REQUEST, json=None, data="{external_id:"),
    "invalid-external-id": Case(Outcome.INVALID_REQUEST, json={"external_id": "x" * 101}),
    "invalid-cashout-id": Case(Outcome.INVALID_REQUEST, path="/cashouts/01001/cancel"),
    "invalid-too-large": Case(
        Outcome.INVALID_REQUEST, json={"external_id": "e", "pad": "x" * 9000}
    ),
    "invalid-merchant": Case(
        Outcome.INVALID_REQUEST, json={"external_id": "ext-1001", "merchant": "Not An Account"}
    ),
    "unknown-merchant": Case(
        Outcome.UNKNOWN_MERCHANT,
        json={"external_id": "ext-1001", "merchant": "no-such-account"},
        arrange=_merchant_prefix,
    ),
    "route-not-found": Case(Outcome.ROUTE_NOT_FOUND, path="/cashouts/1001"),
    "method-not-allowed": Case(Outcome.METHOD_NOT_ALLOWED, method="PUT"),
    "upstream-rejected": Case(Outcome.UPSTREAM_REJECTED, arrange=_inject(Fault.status(400))),
    "upstream-auth-failed": Case(Outcome.UPSTREAM_AUTH_FAILED, arrange=_rotate_password),
    "upstream-unavailable": Case(
        Outcome.UPSTREAM_UNAVAILABLE, arrange=_inject(Fault.status(503), "any", times=10)
    ),
    "upstream-bad-response": Case(Outcome.UPSTREAM_BAD_RESPONSE, arrange=_inject(Fault.html())),
    "upstream-timeout": Case(Outcome.UPSTREAM_TIMEOUT, arrange=_hang_everything),
    "configuration-error": Case(Outcome.CONFIGURATION_ERROR, arrange=_missing_secret),
    "internal-error": Case(Outcome.INTERNAL_ERROR, arrange=_a_bug),
}


def test_the_cases_reach_every_outcome() -> None:
    assert {case.outcome for case in CASES.values()} == set(Outcome)


@pytest.fixture
def api(function_env: D24Sandbox) -> Iterator[LocalApi]:
    """The local API over the test's sandbox and moto secret."""
    from cashout_cancel.handler import lambda_handler

    with LocalApi(lambda_handler) as local_api:
        yield local_api


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_handlers_answer_matches_the_document(
    case: Case, api: LocalApi, function_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the situation of the case
    if case.arrange is not None:
        case.arrange(function_env, monkeypatch)
    # When the request goes through the local API to the real handler
    with requests.Session() as session:
        session.trust_env = False
        response = session.request(
            case.method, api.url + case.path, json=case.json, data=case.data, timeout=10
        )
    # Then the outcome is the expected one, under a documented status, with the documented body
    body = response.json()
    assert (body["outcome"], body["statusCode"]) == (case.outcome, response.status_code)
    documented = documented_response(response.status_code)
    assert response.headers["Content-Type"] in documented["content"]
    body_validator(response.status_code).validate(body)
    for header in documented.get("headers", {}):
        assert header in response.headers


# Generated requests (schemathesis)


def _local_schema() -> Any:
    # The local API does not authenticate (API Gateway does that): no security requirement here.
    unauthenticated = {key: value for key, value in document().items() if key != "security"}
    return schemathesis.openapi.from_dict(unauthenticated)


@pytest.fixture
def make_api() -> Iterator[LocalApi]:
    """`make api` as it starts by default: the local function, with its own sandbox and moto."""
    with local_function() as function, LocalApi(function.handler) as local_api:
        yield local_api


@pytest.mark.slow
@_local_schema().parametrize()  # type: ignore[untyped-decorator]
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_get_documented_answers(case: Any, make_api: LocalApi) -> None:
    # Given schema-valid and schema-violating requests generated from the document
    # When each goes through the local API to the real handler
    # Then every answer has a documented status, content type, headers and body, and none is a
    # server error. "Valid data is accepted" is left out: a body's optional cashout_id must
    # equal the path's, a rule across fields that the schema cannot state.
    case.call_and_validate(
        base_url=make_api.url,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
