"""Several D24 merchant accounts in one deployment (docs/contract.md section 11), through the real
handler, for every caller: the sandbox holds each account's credentials and cashouts, moto each
account's secret under the prefix."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.stub import Stubber

from cashout_cancel.d24.redaction import WITHHELD
from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox, Fault
from local.events import sqs_event
from tests.conftest import ResultsTap
from tests.integration.merchants import (
    ABSENT,
    ENTRIES,
    PREFIX,
    Answer,
    Invoke,
    Merchants,
    ask,
    count_reads,
    external_id,
    fields,
    invoke_with,
)
from tests.integration.test_observability import emf_metrics, output, result_line

__all__ = ["output"]  # the fixture that captures the function's log lines and metrics

ACME = "acme-mx"
GLOBEX = "globex-co"


@pytest.fixture
def invoke(function_env: D24Sandbox) -> Invoke:
    return invoke_with()


@pytest.fixture
def merchants(function_env: D24Sandbox, secrets: Any, monkeypatch: pytest.MonkeyPatch) -> Merchants:
    """The function configured with the default secret and the merchant prefix."""
    monkeypatch.setenv("D24_MERCHANT_SECRET_PREFIX", PREFIX)
    found = Merchants(function_env, secrets)
    count_reads(found.reads)
    return found


def cancel_at(invoke: Invoke, results: ResultsTap, merchant: str, cashout_id: int) -> Answer:
    """A direct cancel of one of `merchant`'s cashouts."""
    request = fields(cashout_id, external_id(merchant, cashout_id), merchant)
    return ask(invoke, results, "direct", request)


def cancel_default(invoke: Invoke, results: ResultsTap, cashout_id: int) -> Answer:
    """A direct cancel of one of the default account's seeded cashouts."""
    return ask(invoke, results, "direct", fields(cashout_id, f"ext-{cashout_id}"))


def assert_refused_naming_merchant(answer: Answer, entry: str) -> None:
    """400 INVALID_REQUEST naming merchant, the merchant not echoed; for SQS, an invalid message
    handed back for the dead-letter queue, unpublished."""
    if entry == "sqs":
        assert answer.redelivered
        assert answer.published == []
        return
    assert (answer.status_code, answer.body["outcome"]) == (400, "INVALID_REQUEST")
    assert "merchant" in answer.body["message"]
    assert "merchant" not in answer.body


# Naming the account


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_named_account_is_cancelled_at_that_account_and_carried_through(
    entry: str, invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    # Given an account acme-mx, and the default account, both holding a cashout 3001
    merchants.add(ACME)
    merchants.d24.add_cashout(3001, "ext-3001")

    # When a caller asks to cancel acme-mx's cashout 3001
    answer = ask(invoke, results, entry, fields(3001, external_id(ACME, 3001), ACME))

    # Then it is cancelled at acme-mx, with acme-mx's secret, and only there
    assert (answer.status_code, answer.body["outcome"]) == (200, "CANCELLED")
    assert answer.body["merchant"] == ACME
    assert merchants.d24.status_of(3001, account=ACME) == CANCELLED
    assert merchants.d24.status_of(3001) == PENDING
    assert {r.account for r in merchants.d24.received()} == {ACME}
    assert merchants.reads_of(ACME) == 1
    assert merchants.reads_of(None) == 0
    # And the result event carries the merchant too
    if entry in ("eventbridge", "sqs"):
        (published,) = answer.published
        assert (published["outcome"], published["merchant"]) == ("CANCELLED", ACME)


@pytest.mark.parametrize("given", [ABSENT, None], ids=["absent", "null"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_without_a_merchant_or_with_null_the_default_account_is_cancelled(
    entry: str, given: Any, invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    # Given a named account beside the default one
    merchants.add(ACME)

    # When a caller asks to cancel without naming an account
    answer = ask(invoke, results, entry, fields(1001, "ext-1001", given))

    # Then the default account's cashout is cancelled with the default secret
    assert (answer.status_code, answer.body["outcome"]) == (200, "CANCELLED")
    assert "merchant" not in answer.body
    assert merchants.d24.status_of(1001) == CANCELLED
    assert {r.account for r in merchants.d24.received()} == {None}
    assert (merchants.reads_of(None), merchants.reads_of(ACME)) == (1, 0)


# Values that are not account names; the strings hold "zq", so an echo of any of them is found.
INVALID_MERCHANTS = {
    "empty": "",
    "uppercase": "Zq-Acme",
    "leading-dash": "-zqacme",
    "33-characters": "zq" + "a" * 31,
    "underscore": "zq_acme",
    "space": "zq acme",
    "slash": "zq/../acme",
    "trailing-newline": "zqacme\n",
    "non-ascii": "zqácme",
    "number": 7,
    "boolean": True,
    "list": ["zqacme"],
    "object": {"name": "zqacme"},
}


@pytest.mark.parametrize("value", INVALID_MERCHANTS.values(), ids=INVALID_MERCHANTS.keys())
@pytest.mark.parametrize("entry", ENTRIES)
def test_an_invalid_merchant_is_refused_naming_it_without_echo_and_nothing_is_sent(
    entry: str, value: Any, invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    # When a caller names an account with a value that is no account name
    answer = ask(invoke, results, entry, fields(1001, "ext-1001", value))

    # Then it is refused naming merchant, the value is not echoed, and nothing reaches D24
    assert_refused_naming_merchant(answer, entry)
    assert "zq" not in json.dumps([answer.body, answer.published]).lower()
    if entry != "sqs":
        assert (answer.body["cashout_id"], answer.body["external_id"]) == (1001, "ext-1001")
    assert merchants.d24.received() == []
    assert merchants.reads == []


@pytest.mark.parametrize("name", ["0", "a" * 32, "7-eleven", "acme-"])
def test_the_shortest_longest_and_dashed_names_are_accounts(
    name: str, invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    merchants.add(name)

    answer = cancel_at(invoke, results, name, 3001)

    assert (answer.body["outcome"], answer.body["merchant"]) == ("CANCELLED", name)
    assert merchants.d24.status_of(3001, account=name) == CANCELLED


# Which secret: the configuration table


@pytest.mark.parametrize("entry", ENTRIES)
def test_with_only_the_default_secret_a_named_merchant_is_refused_and_nothing_sent(
    entry: str, invoke: Invoke, function_env: D24Sandbox, results: ResultsTap
) -> None:
    # Given a deployment with D24_SECRET_ID and no merchant prefix (the fixtures' default)
    # When a caller names an account
    answer = ask(invoke, results, entry, fields(1001, "ext-1001", ACME))

    # Then it is refused naming merchant, and nothing reaches D24
    assert_refused_naming_merchant(answer, entry)
    assert function_env.received() == []
    assert function_env.status_of(1001) == PENDING


@pytest.mark.parametrize("entry", ENTRIES)
def test_with_only_the_prefix_a_request_must_name_its_merchant(
    entry: str,
    invoke: Invoke,
    merchants: Merchants,
    results: ResultsTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a deployment with the merchant prefix and no default secret
    monkeypatch.delenv("D24_SECRET_ID")
    merchants.add(ACME)

    # When a caller asks without naming an account, then naming one
    unnamed = ask(invoke, results, entry, fields(1001, "ext-1001"))
    named = ask(invoke, results, entry, fields(3001, external_id(ACME, 3001), ACME))

    # Then the first is refused naming merchant, with nothing sent; the second is cancelled
    assert_refused_naming_merchant(unnamed, entry)
    assert merchants.d24.status_of(1001) == PENDING
    assert (named.status_code, named.body["outcome"]) == (200, "CANCELLED")
    assert merchants.d24.status_of(3001, account=ACME) == CANCELLED
    assert {r.account for r in merchants.d24.received()} == {ACME}


@pytest.mark.parametrize("given", [ABSENT, ACME], ids=["without", "with"])
@pytest.mark.parametrize("entry", ["api-rest", "direct"])
def test_with_neither_the_default_secret_nor_the_prefix_it_is_a_configuration_error(
    entry: str,
    given: Any,
    invoke: Invoke,
    function_env: D24Sandbox,
    results: ResultsTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("D24_SECRET_ID")

    answer = ask(invoke, results, entry, fields(1001, "ext-1001", given))

    assert (answer.status_code, answer.body["outcome"]) == (500, "CONFIGURATION_ERROR")
    assert "D24_SECRET_ID" in answer.body["message"]
    assert "D24_MERCHANT_SECRET_PREFIX" in answer.body["message"]
    assert function_env.received() == []


# An unknown account; an account whose secret cannot be used


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_named_account_without_a_secret_is_unknown_merchant_a_final_answer_nothing_sent(
    entry: str, invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    # Given an account D24 knows but this deployment has no secret for
    merchants.add("ghost", secret="")

    # When a caller asks to cancel one of its cashouts
    answer = ask(invoke, results, entry, fields(3001, external_id("ghost", 3001), "ghost"))

    # Then it is told 404 UNKNOWN_MERCHANT, a final answer: returned, published, not retried
    assert (answer.status_code, answer.body["outcome"]) == (404, "UNKNOWN_MERCHANT")
    assert answer.body["merchant"] == "ghost"
    assert answer.raised is None
    assert not answer.redelivered
    if entry in ("eventbridge", "sqs"):
        assert [p["outcome"] for p in answer.published] == ["UNKNOWN_MERCHANT"]
    # And nothing reached D24
    assert merchants.d24.received() == []
    assert merchants.d24.status_of(3001, account="ghost") == PENDING


def _schedule_deletion(merchants: Merchants, merchant: str) -> None:
    merchants.secrets.delete_secret(SecretId=PREFIX + merchant, RecoveryWindowInDays=7)


def _malformed(merchants: Merchants, merchant: str) -> None:
    merchants.secrets.put_secret_value(SecretId=PREFIX + merchant, SecretString='{"login": "x"')


def _denied(merchants: Merchants, merchant: str) -> None:
    from cashout_cancel import container

    stubber = Stubber(container.secrets_client())
    stubber.add_client_error("get_secret_value", "AccessDeniedException", "denied", 400)
    stubber.activate()


UNUSABLE = {
    "scheduled-for-deletion": (_schedule_deletion, "InvalidRequestException"),
    "malformed": (_malformed, "JSON"),
    "access-denied": (_denied, "AccessDeniedException"),
}


@pytest.mark.parametrize("case", UNUSABLE.values(), ids=UNUSABLE.keys())
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_named_account_whose_secret_exists_but_cannot_be_used_is_a_configuration_error(
    entry: str, case: Any, invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    arrange, names = case
    merchants.add(ACME)
    arrange(merchants, ACME)

    answer = ask(invoke, results, entry, fields(3001, external_id(ACME, 3001), ACME))

    if entry == "sqs":
        assert answer.redelivered
        assert answer.published == []
    else:
        assert (answer.status_code, answer.body["outcome"]) == (500, "CONFIGURATION_ERROR")
    if entry not in ("sqs", "eventbridge"):
        assert names in answer.body["message"]
        assert answer.body["merchant"] == ACME
    assert merchants.d24.received() == []


def test_requests_for_accounts_that_do_not_exist_never_push_a_known_one_out_of_the_cache(
    invoke: Invoke, merchants: Merchants, results: ResultsTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given room for the default account and one named account, acme-mx's secret cached
    monkeypatch.setenv("MERCHANT_CACHE_SIZE", "2")
    merchants.add(ACME)
    assert cancel_at(invoke, results, ACME, 3001).body["outcome"] == "CANCELLED"

    # When requests name accounts that do not exist
    for ghost in ("ghost-1", "ghost-2", "ghost-3"):
        answer = ask(invoke, results, "direct", fields(3001, "x", ghost))
        assert answer.body["outcome"] == "UNKNOWN_MERCHANT"

    # Then acme-mx's secret is still cached
    assert cancel_at(invoke, results, ACME, 3002).body["outcome"] == "CANCELLED"
    assert merchants.reads_of(ACME) == 1


# Isolation


def test_each_accounts_secret_is_read_once_and_cached_on_its_own(
    invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    merchants.add(ACME)
    merchants.add(GLOBEX)

    answers = [
        cancel_at(invoke, results, ACME, 3001),
        cancel_at(invoke, results, GLOBEX, 3001),
        cancel_default(invoke, results, 1001),
        cancel_at(invoke, results, ACME, 3002),
        cancel_at(invoke, results, GLOBEX, 3002),
        cancel_default(invoke, results, 1002),
    ]

    assert [a.body["outcome"] for a in answers] == ["CANCELLED"] * 6
    reads = (merchants.reads_of(ACME), merchants.reads_of(GLOBEX), merchants.reads_of(None))
    assert reads == (1, 1, 1)


def test_each_accounts_secret_expires_on_its_own(
    invoke: Invoke, merchants: Merchants, results: ResultsTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given secrets cached for 2 s, acme-mx's read 1.2 s before globex-co's
    monkeypatch.setenv("SECRET_CACHE_TTL_SECONDS", "2")
    merchants.add(ACME)
    merchants.add(GLOBEX)
    cancel_at(invoke, results, ACME, 3001)
    time.sleep(1.2)
    cancel_at(invoke, results, GLOBEX, 3001)

    # When both are asked for again after acme-mx's expired and before globex-co's does
    time.sleep(1.0)
    answers = [cancel_at(invoke, results, ACME, 3002), cancel_at(invoke, results, GLOBEX, 3002)]

    # Then only acme-mx's secret was read again
    assert [a.body["outcome"] for a in answers] == ["CANCELLED", "CANCELLED"]
    assert (merchants.reads_of(ACME), merchants.reads_of(GLOBEX)) == (2, 1)


def test_a_secret_rotated_at_one_account_is_re_read_for_that_account_only(
    invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    # Given both accounts' secrets cached, then acme-mx's rotated at D24 and in Secrets Manager
    merchants.add(ACME)
    merchants.add(GLOBEX)
    cancel_at(invoke, results, ACME, 3001)
    cancel_at(invoke, results, GLOBEX, 3001)
    cancel_default(invoke, results, 1001)
    merchants.rotate_everywhere(ACME)

    # When each account cancels again
    answers = [
        cancel_at(invoke, results, ACME, 3002),
        cancel_at(invoke, results, GLOBEX, 3002),
        cancel_default(invoke, results, 1002),
    ]

    # Then all are cancelled; acme-mx's secret alone was read again, once
    assert [a.body["outcome"] for a in answers] == ["CANCELLED"] * 3
    reads = (merchants.reads_of(ACME), merchants.reads_of(GLOBEX), merchants.reads_of(None))
    assert reads == (2, 1, 1)


def test_d24_refusing_one_accounts_credentials_leaves_the_others_answers_alone(
    invoke: Invoke, merchants: Merchants, results: ResultsTap
) -> None:
    # Given acme-mx's credentials rotated at D24 only (Secrets Manager still has the old ones)
    merchants.add(ACME)
    merchants.add(GLOBEX)
    merchants.rotate_at_d24(ACME)

    # When each account cancels
    acme = cancel_at(invoke, results, ACME, 3001)
    globex = cancel_at(invoke, results, GLOBEX, 3001)
    default = cancel_default(invoke, results, 1001)

    # Then acme-mx alone is refused; the others are cancelled
    assert (acme.status_code, acme.body["outcome"]) == (502, "UPSTREAM_AUTH_FAILED")
    assert merchants.d24.status_of(3001, account=ACME) == PENDING
    assert globex.body["outcome"] == default.body["outcome"] == "CANCELLED"
    assert merchants.d24.status_of(3001, account=GLOBEX) == CANCELLED


def invoke_batch(event: dict[str, Any]) -> list[str]:
    """An SQS batch through the real handler; the message ids handed back for redelivery."""
    response = invoke_with()(event)
    assert set(response) == {"batchItemFailures"}
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_a_mixed_batch_answers_each_account_as_its_own_state_says(
    merchants: Merchants, results: ResultsTap
) -> None:
    # Given three named accounts beside the default one: ghost has no secret; rotated's secret
    # is cached and then rotated (D24 refuses the cached credentials, Secrets Manager holds the
    # new ones); fine is fine
    invoke = invoke_with()
    merchants.add("ghost", secret="")
    merchants.add("rotated")
    merchants.add("fine")
    for warm in ("rotated", "fine"):
        assert cancel_at(invoke, results, warm, 3010).body["outcome"] == "CANCELLED"
    merchants.rotate_everywhere("rotated")
    reads_before = {m: merchants.reads_of(m) for m in ("rotated", "fine")}

    # When one batch mixes their cancels with the default account's
    bodies = [
        fields(3001, external_id("rotated", 3001), "rotated"),
        fields(3001, external_id("ghost", 3001), "ghost"),
        fields(3001, external_id("fine", 3001), "fine"),
        fields(1001, "ext-1001"),
        fields(3002, external_id("rotated", 3002), "rotated"),
        fields(3002, external_id("ghost", 3002), "ghost"),
        fields(3002, external_id("fine", 3002), "fine"),
        fields(1002, "ext-1002"),
    ]
    event = sqs_event(*bodies)
    ids = [record["messageId"] for record in event["Records"]]
    failed = invoke_batch(event)

    # Then every message is done: ghost's are UNKNOWN_MERCHANT, every other one CANCELLED
    assert failed == []
    published = {d["request_id"]: d for d in results.details() if d["caller"] == "sqs"}
    outcomes = {(published[i].get("merchant"), published[i]["cashout_id"]): published[i]["outcome"]
                for i in ids}  # fmt: skip
    assert outcomes == {
        ("rotated", 3001): "CANCELLED",
        ("rotated", 3002): "CANCELLED",
        ("ghost", 3001): "UNKNOWN_MERCHANT",
        ("ghost", 3002): "UNKNOWN_MERCHANT",
        ("fine", 3001): "CANCELLED",
        ("fine", 3002): "CANCELLED",
        (None, 1001): "CANCELLED",
        (None, 1002): "CANCELLED",
    }
    # And D24 holds exactly that, account by account
    for merchant in ("rotated", "fine"):
        assert merchants.d24.status_of(3001, account=merchant) == CANCELLED
        assert merchants.d24.status_of(3002, account=merchant) == CANCELLED
    assert merchants.d24.status_of(3001, account="ghost") == PENDING
    assert merchants.sent_for("ghost") == 0
    assert merchants.d24.status_of(1001) == merchants.d24.status_of(1002) == CANCELLED
    # And the rotated secret was re-read once, the fine one not at all
    reads = {m: merchants.reads_of(m) - reads_before[m] for m in ("rotated", "fine")}
    assert reads == {"rotated": 1, "fine": 0}


def test_a_429_to_one_account_holds_back_none_of_another_accounts_cancels(
    merchants: Merchants, results: ResultsTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two cancels at a time, and D24 throttling acme-mx (Retry-After: 2) on the first
    # cancel it gets from it; D24 throttles a merchant account, not the deployment
    monkeypatch.setenv("BULK_CONCURRENCY", "2")
    merchants.add(ACME)
    merchants.add(GLOBEX)
    merchants.d24.inject(Fault.status(429, headers={"Retry-After": "2"}), account=ACME)
    acme = [fields(c, external_id(ACME, c), ACME) for c in (3001, 3002, 3003)]
    globex = [fields(c, external_id(GLOBEX, c), GLOBEX) for c in range(3001, 3007)]

    # When one batch holds both accounts' cancels, acme-mx's first
    failed = invoke_batch(sqs_event(acme[0], *globex, *acme[1:]))

    # Then globex-co's cancels went on while acme-mx waited; acme-mx's waited; all cancelled
    received = merchants.d24.received()
    told_to_wait = next(r for r in received if r.account == ACME)
    at = {m: [r.at - told_to_wait.at for r in received if r.account == m and r is not told_to_wait]
          for m in (ACME, GLOBEX)}  # fmt: skip
    assert len(at[GLOBEX]) == 6
    assert max(at[GLOBEX]) < 1.0, "another account's cancels waited for acme-mx's Retry-After"
    assert min(at[ACME]) >= 2.0 - 0.02
    assert failed == []
    assert {d["outcome"] for d in results.details()} == {"CANCELLED"}
    assert len(results.details()) == 9


def test_a_concurrent_first_use_of_one_account_reads_its_secret_once(
    merchants: Merchants, results: ResultsTap
) -> None:
    merchants.add(ACME)
    event = sqs_event(*(fields(c, external_id(ACME, c), ACME) for c in range(3001, 3011)))

    failed = invoke_batch(event)

    assert failed == []
    assert all(merchants.d24.status_of(c, account=ACME) == CANCELLED for c in range(3001, 3011))
    assert merchants.reads_of(ACME) == 1


# The bounded cache


def test_at_most_merchant_cache_size_accounts_are_cached_the_least_recent_giving_way(
    invoke: Invoke, merchants: Merchants, results: ResultsTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given room for three accounts: the default one and two named ones
    monkeypatch.setenv("MERCHANT_CACHE_SIZE", "3")
    for merchant in ("a", "b", "c"):
        merchants.add(merchant)
    cancel_default(invoke, results, 1001)
    cancel_at(invoke, results, "a", 3001)
    cancel_at(invoke, results, "b", 3001)

    # When a third named account comes (a, the least recently used, gives way), then b, a and
    # the default account are asked for again
    cancel_at(invoke, results, "c", 3001)
    cancel_at(invoke, results, "b", 3002)
    answer = cancel_at(invoke, results, "a", 3002)
    cancel_default(invoke, results, 1002)

    # Then a was simply read again, b was still cached, the default account was kept
    assert answer.body["outcome"] == "CANCELLED"
    reads = {m: merchants.reads_of(m) for m in ("a", "b", "c")}
    assert reads == {"a": 2, "b": 1, "c": 1}
    assert merchants.reads_of(None) == 1


def test_the_default_account_is_kept_however_many_named_accounts_come(
    invoke: Invoke, merchants: Merchants, results: ResultsTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given room for one account only
    monkeypatch.setenv("MERCHANT_CACHE_SIZE", "1")
    merchants.add(ACME)

    # When the default account and acme-mx take turns
    for cashout_id in (3001, 3002, 3003):
        assert cancel_default(invoke, results, cashout_id - 2000).body["outcome"] == "CANCELLED"
        assert cancel_at(invoke, results, ACME, cashout_id).body["outcome"] == "CANCELLED"

    # Then the default account's secret was read once; acme-mx's, which has no room, each time
    assert (merchants.reads_of(None), merchants.reads_of(ACME)) == (1, 3)


# Carried through: the result line and the metrics


def test_the_result_line_carries_the_named_merchant_and_no_metric_carries_it(
    invoke: Invoke, merchants: Merchants, results: ResultsTap, output: Any
) -> None:
    merchants.add(ACME)

    cancel_at(invoke, results, ACME, 3001)
    named = output()
    cancel_default(invoke, results, 1001)
    unnamed = output()

    # Each call's output holds the log lines so far and its own metrics
    (named_line,) = [line for line in unnamed if line.get("cashout_id") == 3001]
    (unnamed_line,) = [line for line in unnamed if line.get("cashout_id") == 1001]
    assert result_line(named) == named_line
    assert named_line["merchant"] == ACME
    assert "merchant" not in unnamed_line
    for lines in (named, unnamed):
        (emf,) = [line for line in lines if "_aws" in line]
        dimensions = {d for s in emf["_aws"]["CloudWatchMetrics"] for ds in s["Dimensions"]
                      for d in ds}  # fmt: skip
        assert "merchant" not in dimensions
        assert "merchant" not in emf
        assert emf_metrics(lines)["CANCELLED"] in (1, 1.0, [1.0])


# Credentials withheld


@pytest.mark.parametrize("acme_loaded_first", [False, True], ids=["other-first", "own-first"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_any_loaded_accounts_credentials_are_withheld_from_another_accounts_answer(
    entry: str,
    acme_loaded_first: bool,
    invoke: Invoke,
    merchants: Merchants,
    results: ResultsTap,
    output: Any,
) -> None:
    # Given globex-co's credentials loaded (one cancel; acme-mx's before or not), and D24
    # answering acme-mx's request with globex-co's login, pass and signing key quoted back
    globex = merchants.add(GLOBEX)
    merchants.add(ACME)
    if acme_loaded_first:
        assert cancel_at(invoke, results, ACME, 3002).body["outcome"] == "CANCELLED"
    assert cancel_at(invoke, results, GLOBEX, 3001).body["outcome"] == "CANCELLED"
    quoted = {"code": globex["login"], "message": f"bad {globex['pass']} {globex['secret_key']}"}
    merchants.d24.inject(Fault.status(400, body=quoted))

    # When acme-mx's cancel is answered
    answer = ask(invoke, results, entry, fields(3001, external_id(ACME, 3001), ACME))

    # Then none of globex-co's credentials is passed on: not in the answer, the published
    # event or any log line
    passed_on = json.dumps([answer.body, answer.published, output()])
    assert globex["login"] not in passed_on
    assert globex["pass"] not in passed_on
    assert globex["secret_key"] not in passed_on
    assert answer.body["outcome"] == "UPSTREAM_REJECTED"
    assert answer.body["upstream"]["code"] == answer.body["upstream"]["message"] == WITHHELD
