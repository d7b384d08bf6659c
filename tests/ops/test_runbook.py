"""docs/runbook.md says only what is true: its links lead somewhere, every `<Name>` it asks for is a
stack output or parameter it says how to read, and every count or duration it quotes is the one
the template or the tool has (or, for AWS's own limits, named here as such)."""

from __future__ import annotations

import re
import signal
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local.cfn_template import load_template
from ops.batches import BATCH_SIZE
from ops.csv_file import check_file
from ops.errors import EXIT_STATUS
from ops.send import MAX_LISTED
from tests.ops.test_resume import LINES

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
# Numbers the runbook quotes that are AWS's, not this project's: nothing here can change them.
AWS_FACTS = ("API Gateway's 29 s",)


def prose(path: Path) -> str:
    """A Markdown file with its line breaks and runs of spaces made single spaces."""
    return " ".join(path.read_text(encoding="utf-8").split())


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """A Markdown file's anchors: its explicit `<a id>` tags and its headings' slugs."""
    text = path.read_text(encoding="utf-8")
    explicit = set(re.findall(r'<a id="([^"]+)"></a>', text))
    return explicit | {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_every_link_leads_to_a_file_and_section_that_exist() -> None:
    # Given every Markdown link of the runbook to a file of the repository or a section
    links = re.findall(r"\]\(([^)\s]+)\)", RUNBOOK.read_text(encoding="utf-8"))
    local = [link for link in links if not link.startswith(("http://", "https://"))]

    # Then each file exists and has the section named
    missing = []
    for link in local:
        name, _, anchor = link.partition("#")
        target = (RUNBOOK.parent / name).resolve() if name else RUNBOOK
        if not target.is_file() or (anchor and anchor not in anchors(target)):
            missing.append(link)
    assert local, "the runbook links nothing: did the pattern break?"
    assert missing == []


def test_it_sends_the_reader_to_the_egress_ip_section_where_it_lives() -> None:
    assert "(deploying.md#the-fixed-egress-ip-for-d24s-whitelist)" in prose(RUNBOOK)
    assert 'README, "The fixed egress IP"' not in prose(RUNBOOK)


def test_every_placeholder_is_an_output_or_parameter_it_says_how_to_read(
    template: dict[str, Any],
) -> None:
    # Given the `<Name>` placeholders of the runbook, and the paragraph on stack outputs
    text = prose(RUNBOOK)
    names = set(re.findall(r"<([A-Z][A-Za-z0-9]+)>", text))
    listed = text[text.index("**Stack outputs**") : text.index("**The result lines**")]

    # Then each is one of the template's outputs or parameters, and that paragraph names it
    known = template["Outputs"].keys() | template["Parameters"].keys()
    assert {"CancelQueueUrl", "CancelRequestsEventBusName", "D24SecretArn"} <= names
    assert sorted(names - known) == []
    assert sorted(name for name in names if f"`{name}`" not in listed) == []


def quoted_numbers(template: dict[str, Any]) -> list[str]:
    """Each phrase of the runbook that quotes a count or duration, built from where it comes
    from: if the template or the tool changes, the phrase no longer matches."""
    resources, parameters = template["Resources"], template["Parameters"]
    function = resources["CancelCashoutFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    timeout = function["Timeout"]
    queue = resources["CancelQueue"]["Properties"]
    visibility, kept = queue["VisibilityTimeout"], queue["MessageRetentionPeriod"]
    receives = parameters["BulkMaxReceiveCount"]["Default"]
    invocations = parameters["BulkMaximumConcurrency"]["Default"]
    in_flight = int(env["BULK_CONCURRENCY"])
    retries = function["EventInvokeConfig"]["MaximumRetryAttempts"]
    api = resources["ApiServerErrorsAlarm"]["Properties"]
    duration = resources["DurationNearTimeoutAlarm"]["Properties"]
    share = resources["UpstreamUnavailableShareAlarm"]["Properties"]["Threshold"]
    canary = re.fullmatch(
        r"Canary(\d+)Percent(\d+)Minutes", parameters["DeploymentType"]["Default"]
    )
    assert canary is not None
    # A rate of D24's usual half a second per cancel, at the most the queue keeps in flight.
    per_second = invocations * in_flight / 0.5
    assert per_second >= 30
    assert 100_000 / per_second < 3600
    assert share == 0.25
    assert retries == 2  # AWS waits about 1 minute before the first retry, 2 before the second
    assert api["Period"] == 60
    assert function["EventInvokeConfig"]["MaximumEventAgeInSeconds"] == 3600
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    cache_ttl, attempts = env["SECRET_CACHE_TTL_SECONDS"], env["D24_MAX_ATTEMPTS"]
    max_age = parameters["CancelQueueMaxAgeSeconds"]["Default"]
    near_timeout = duration["Threshold"] * 100 // (timeout * 1000)
    return [
        f"`SECRET_CACHE_TTL_SECONDS` ({cache_ttl} s)",
        f"wait {int(cache_ttl) // 60} minutes (the cache)",
        f"({attempts} attempts, backoff with jitter, within its {timeout} s deadline)",
        f"redelivered after the visibility timeout ({visibility} s)",
        f"`BulkMaxReceiveCount` ({receives}) receives, about {receives * visibility // 60} minutes",
        f"`CancelQueueMaxAgeSeconds` ({max_age // 60} minutes)",
        f"({invocations} x {in_flight} = {invocations * in_flight})",
        "some 30 cancels a second, 100,000 in under an hour",
        f"messages are kept {kept // 86400} days",
        f"keeps up to {in_flight} cancels in flight",
        f"after {receives} more receives",
        f"above {near_timeout}% of the function's {timeout} s timeout",
        f"up to {parameters['BulkBatchSize']['Default']} cancels, {in_flight} at a time",
        f"visibility timeout (at least {visibility // timeout}x)",
        f"More than {api['Threshold']:.0%} of HTTP requests got a 5xx in"
        f" {api['DatapointsToAlarm']} of {api['EvaluationPeriods']} minutes",
        "More than a quarter of results",
        f"`ReservedConcurrency` ({parameters['ReservedConcurrency']['Default']})",
        "retried for up to an hour",
        "aged past an hour",
        "after the function raised three times",
        "Lambda retries EventBridge events after 1 and 2 minutes",
        "Lambda retries after about 1 and 2 minutes",
        f"{canary.group(1)}% of every caller's traffic",
        f"for {canary.group(2)} minutes, then all of it",
        f"the canary's {canary.group(2)} minutes longer",
        # The tool's own
        f"lists up to {MAX_LISTED} bad lines",
        f"Lines go in batches of {BATCH_SIZE}",
        f"exits {128 + signal.SIGINT} ({128 + signal.SIGTERM})",
        f"{EXIT_STATUS}: the command could not run or AWS stopped it",
        f"{128 + signal.SIGINT} or {128 + signal.SIGTERM}: interrupted",
        f"`resuming: 40 of {LINES} lines were already accepted in an earlier run`",
        f"Python {requires['project']['requires-python'].removeprefix('>=')}+",
    ]


def test_every_count_and_duration_quoted_is_the_templates_or_the_tools(
    template: dict[str, Any],
) -> None:
    text = prose(RUNBOOK)

    assert [phrase for phrase in quoted_numbers(template) if phrase not in text] == []


def test_no_other_duration_percentage_or_setting_value_is_quoted(template: dict[str, Any]) -> None:
    # Given every duration, percentage and `Setting` (N) of the runbook's prose
    text = prose(RUNBOOK)
    pattern = r"\b\d+\s?(?:s|seconds?|minutes?|hours?|days?|%|x)(?![\w-])|`\w+` \(\d+\)"
    found = [(match.start(), match.end()) for match in re.finditer(pattern, text)]

    # Then each lies within a phrase checked above, or is one of AWS's own numbers
    covered = [
        (match.start(), match.end())
        for phrase in (*quoted_numbers(template), *AWS_FACTS)
        for match in re.finditer(re.escape(phrase), text)
    ]
    unchecked = [
        text[start:end]
        for start, end in found
        if not any(low <= start and end <= high for low, high in covered)
    ]
    assert found, "nothing found: did the pattern break?"
    assert unchecked == []


def test_the_refusal_it_quotes_is_the_tools(tmp_path: Path) -> None:
    path = tmp_path / "cancels.csv"
    path.write_text("cashout_id,external_id\n1001,ext-1001\n01002,ext-1002\n", encoding="utf-8")

    (bad,) = check_file(path).bad

    assert f"`{bad}`" in prose(RUNBOOK)
