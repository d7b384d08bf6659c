"""The optional `merchant` column (docs/contract.md section 11): a named account travels in the
message, an empty cell means the default account and adds nothing, and a name outside the contract's
rule is refused before anything is sent. Replays keep the account a failed request named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.csv_file import check_file
from ops.failures import Replayable, Unreadable, read_message
from ops.function import CancelRequest
from tests.ops.conftest import LocalAws, Ran, write_csv

Tool = Callable[..., Ran]
HEADER = "cashout_id,external_id,merchant\n"


def test_a_named_account_is_in_the_message_and_an_empty_cell_adds_nothing(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a file with the merchant column, one line naming an account, one leaving it empty
    queue = local_aws.queue()
    path = write_csv(tmp_path, HEADER + "1001,ext-1001,acme-mx\n1002,ext-1002,\n")

    # When it is sent
    ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then the first message names the account, the second is the plain direct object
    assert ran.status == 0, ran.err
    assert sorted(local_aws.bodies(queue), key=lambda body: body["cashout_id"]) == [
        {"cashout_id": 1001, "external_id": "ext-1001", "merchant": "acme-mx"},
        {"cashout_id": 1002, "external_id": "ext-1002"},
    ]


@pytest.mark.parametrize("merchant", ["a", "7", "acme-mx", "a" * 32, "2nd-entity-"])
def test_names_the_contract_allows_are_accepted(tmp_path: Path, merchant: str) -> None:
    checked = check_file(write_csv(tmp_path, f"{HEADER}1001,ext-1001,{merchant}\n"))

    assert [(line.request, line.merchant) for line in checked.lines] == [
        (CancelRequest(1001, "ext-1001"), merchant)
    ]


@pytest.mark.parametrize(
    ("merchant", "rule"),
    [
        ("-acme", "must start with a letter or digit"),
        ("Acme", "only lowercase a-z, 0-9 and '-'"),
        ("acme mx", "only lowercase a-z, 0-9 and '-'"),
        ("acme_mx", "only lowercase a-z, 0-9 and '-'"),
        ("acm\u00e9", "only lowercase a-z, 0-9 and '-'"),
        ("a" * 33, "too long: over 32 characters"),
    ],
)
def test_names_outside_the_rule_are_refused_saying_which_rule(
    tmp_path: Path, merchant: str, rule: str
) -> None:
    checked = check_file(write_csv(tmp_path, f"{HEADER}1001,ext-1001,{merchant}\n"))

    assert [str(bad) for bad in checked.bad] == [f"line 2: merchant {merchant!r}: {rule}"]


def test_the_same_cancel_for_two_accounts_is_two_lines_not_a_repeat(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + "1001,ext-1001,acme-mx\n1001,ext-1001,acme-br\n")

    checked = check_file(path)

    assert [line.merchant for line in checked.lines] == ["acme-mx", "acme-br"]
    assert checked.repeats == {}


def test_a_replayed_request_keeps_its_account() -> None:
    detail = {"cashout_id": 1001, "external_id": "ext-1001", "merchant": "acme-mx"}
    event = {"detail-type": "Cashout Cancel Requested", "detail": detail}

    found = read_message(json.dumps(event), {})

    # The function's own validation keeps the account on the request too (docs/contract.md section
    # 11)
    request = CancelRequest(1001, "ext-1001", merchant="acme-mx")
    assert found == Replayable(request, "EventBridge event", "acme-mx")


def test_a_failed_request_naming_an_invalid_account_is_not_replayed() -> None:
    body = {"cashout_id": 1001, "external_id": "ext-1001", "merchant": "Acme"}

    found = read_message(json.dumps(body), {})

    # Refused with the function's own reason, which never repeats the value
    assert isinstance(found, Unreadable)
    assert found.reason.startswith("cancel message: invalid request: merchant ")
    assert "Acme" not in found.reason
