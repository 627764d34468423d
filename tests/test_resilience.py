"""Fault injection: the real CLI against the emulator, with LinkedIn misbehaving.

Each test asserts what arrived (every valid event exactly once), the exit status, the
rejected-records file and the STATE lines on stdout.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from linkedin_capi_emulator import Emulator

from tests.harness import base_config, hashed_email, record, run_target, singer

pytestmark = pytest.mark.e2e


@pytest.fixture
def emu():
    with Emulator(
        port=0,
        tokens=["emulator-token"],
        accounts=[5010001],
        campaigns={5010001: [6010001]},
        oauth_clients={"client-id": "client-secret"},
        refresh_tokens=["refresh-1"],
    ) as emulator:
        yield emulator


def delivered(emu, n: int) -> Counter[int]:
    """How often each record index arrived (keyed by its hashed email)."""
    by_hash = {hashed_email(i): i for i in range(n)}
    counts: Counter[int] = Counter()
    for event in emu.state.accepted_events():
        for user_id in event["user"]["userIds"]:
            if user_id["idType"] == "SHA256_EMAIL":
                counts[by_hash[user_id["idValue"]]] += 1
    return counts


def assert_exactly_once(emu, n: int) -> None:
    counts = delivered(emu, n)
    assert set(counts) == set(range(n)), f"missing: {sorted(set(range(n)) - set(counts))[:10]}"
    assert max(counts.values()) == 1, "an event arrived twice"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_and_every_event_arrives_once(emu, rule, tmp_path, status):
    emu.add_fault({"path": "/rest/conversionEvents", "status": status, "times": 2,
                   "headers": {"Retry-After": "0"}})  # fmt: skip
    n = 1200
    result = run_target(
        base_config(emu, rule, batch_size_rows=500), singer([record(i) for i in range(n)]), tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert_exactly_once(emu, n)
    retries = [line for line in result.stderr.splitlines() if "retrying (attempt" in line]
    assert len(retries) == 2
    assert all("WARNING" in line and f"HTTP {status}" in line for line in retries)
    assert result.states[-1] == {"last_id": n - 1}


def test_connection_resets_are_survived(emu, rule, tmp_path):
    emu.add_fault({"path": "/rest/conversionEvents", "action": "reset", "times": 2})
    n = 1000
    result = run_target(
        base_config(emu, rule, batch_size_rows=400), singer([record(i) for i in range(n)]), tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert_exactly_once(emu, n)
    assert "ConnectionError" in result.stderr


def test_a_stalled_request_times_out_and_is_retried(emu, rule, tmp_path):
    emu.add_fault({"path": "/rest/conversionEvents", "action": {"delay": 2.5}, "times": 1})
    n = 300
    config = base_config(emu, rule, read_timeout_seconds=1)
    result = run_target(config, singer([record(i) for i in range(n)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert_exactly_once(emu, n)
    assert "ReadTimeout" in result.stderr


def test_an_expired_token_is_refreshed_once_and_the_run_completes(emu, rule, tmp_path):
    emu.add_fault({"path": "/rest/conversionEvents", "action": {"expire_token": True}, "after": 1})
    n = 1500
    config = base_config(
        emu, rule, batch_size_rows=500, refresh_token="refresh-1", client_id="client-id",
        client_secret="client-secret",
    )  # fmt: skip
    result = run_target(config, singer([record(i) for i in range(n)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert_exactly_once(emu, n)
    refreshes = [r for r in emu.state.requests() if r["path"] == "/oauth/v2/accessToken"]
    assert len(refreshes) == 1
    assert "refresh-1" not in result.stderr and "client-secret" not in result.stderr


def test_only_refresh_credentials_get_a_token_at_startup(emu, rule, tmp_path):
    config = base_config(
        emu, rule, refresh_token="refresh-1", client_id="client-id", client_secret="client-secret"
    )
    config.pop("access_token")
    result = run_target(config, singer([record(i) for i in range(10)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert_exactly_once(emu, 10)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda emu: emu.revoke_token("emulator-token"), "revoked"),
        (lambda emu: emu.expire_token("emulator-token"), "EXPIRED_ACCESS_TOKEN"),
    ],
)
def test_unusable_tokens_stop_the_run_with_advice(emu, rule, tmp_path, setup, expected):
    setup(emu)
    result = run_target(base_config(emu, rule), singer([record(i) for i in range(50)]), tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "rw_conversions" in result.stderr and "Direct API" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.states == []
    assert emu.state.accepted_events() == []


def test_a_failed_refresh_is_fatal(emu, rule, tmp_path):
    emu.expire_token("emulator-token")
    config = base_config(
        emu, rule, refresh_token="not-a-refresh-token", client_id="client-id",
        client_secret="client-secret",
    )  # fmt: skip
    result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 1
    assert "refused to refresh" in result.stderr and "invalid_request" in result.stderr
    assert "not-a-refresh-token" not in result.stderr


def test_a_sunset_version_stops_the_run_naming_it(tmp_path):
    with Emulator(port=0, active_versions=[202609]) as emu:
        rule = emu.add_rule(account=5010001, name="x", type="LEAD")
        config = base_config(emu, rule, api_version="202605")
        result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 1
    assert "202605" in result.stderr and "api_version" in result.stderr
    assert "Traceback" not in result.stderr
    # Not retried: the one answer is final, whatever the retry budget, and nothing is sent.
    assert [(r["path"], r["status"]) for r in emu.state.requests()] == [
        (f"/rest/conversions/{rule}", 426)
    ]
    assert result.states == []


def test_a_403_stops_the_run_with_likely_causes(tmp_path):
    with Emulator(port=0, token_accounts={"emulator-token": [999]}, accounts=[5010001, 999]) as emu:
        rule = emu.add_rule(account=5010001, name="x", type="LEAD")
        result = run_target(base_config(emu, rule), singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 1
    assert "role" in result.stderr and "rw_conversions" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("style", ["422", "400", "no_index"])
def test_one_bad_event_costs_only_that_event(emu, rule, tmp_path, style):
    n = 900
    records = [record(i, event_key=f"evt-{i}") for i in range(n)]
    bad = {"evt-17", "evt-450"}
    emu.add_fault({"reject_event_ids": sorted(bad), "style": style, "times": 0})
    config = base_config(
        emu,
        rule,
        field_mappings={**base_config(emu, rule)["field_mappings"], "event_id": "event_key"},
    )
    result = run_target(config, singer(records), tmp_path)
    assert result.returncode == 0, result.stderr
    accepted = [event["eventId"] for event in emu.state.accepted_events()]
    assert sorted(accepted) == sorted(f"evt-{i}" for i in range(n) if f"evt-{i}" not in bad)
    assert {line["event_id"] for line in result.rejected} == bad
    assert all(line["source"] == "linkedin" for line in result.rejected)
    assert result.states[-1] == {"last_id": n - 1}


def test_garbage_heavy_input_delivers_every_valid_record(emu, rule, tmp_path):
    rows, valid = [], []
    for i in range(600):
        kind = i % 6
        if kind == 0:
            rows.append(record(i, occurred_at="2001-01-01T00:00:00Z"))
        elif kind == 1:
            rows.append(record(i, email="   ", first_name=None))
        elif kind == 2:
            rows.append(record(i, amount=-5))
        elif kind == 3:
            rows.append(record(i, occurred_at="not a date"))
        else:
            rows.append(record(i))
            valid.append(i)
    result = run_target(base_config(emu, rule, batch_size_rows=100), singer(rows), tmp_path)
    assert result.returncode == 0, result.stderr
    counts = delivered(emu, 600)
    assert sorted(counts) == valid and max(counts.values()) == 1
    reasons = Counter(line["reason"] for line in result.rejected)
    assert reasons == {"timestamp_too_old": 100, "no_identifier": 100, "value_negative": 100,
                       "timestamp_invalid": 100}  # fmt: skip
    assert "rejected 400" in result.stderr


def test_the_rejected_share_limit_fails_the_run_without_a_final_state(emu, rule, tmp_path):
    rows = [record(i, occurred_at="2001-01-01") if i % 2 else record(i) for i in range(100)]
    result = run_target(base_config(emu, rule, max_rejected_ratio=0.2), singer(rows), tmp_path)
    assert result.returncode == 1
    assert "max_rejected_ratio" in result.stderr
    assert {"last_id": 99} not in result.states
    assert len(emu.state.accepted_events()) == 50  # the valid ones still went out


def test_state_is_emitted_during_the_run_and_never_ahead_of_delivery(emu, rule, tmp_path):
    # A fatal answer part-way: every STATE printed must cover only delivered records.
    emu.add_fault({"path": "/rest/conversionEvents", "after": 6, "times": 0,
                   "action": {"status": 401, "body": {"status": 401, "serviceErrorCode": 65601,
                              "code": "REVOKED_ACCESS_TOKEN", "message": "revoked"}}})  # fmt: skip
    n = 5000
    config = base_config(
        emu, rule, batch_size_rows=250, state_flush_interval_seconds=0, max_inflight_batches=2
    )
    text = singer([record(i) for i in range(n)], state_every=250)
    result = run_target(config, text, tmp_path, pace=(500, 0.1))
    assert result.returncode == 1
    assert len(result.states) >= 2, "checkpoints were only written at the end"
    counts = delivered(emu, n)
    for state in result.states:
        covered = set(range(state["last_id"] + 1))
        assert covered <= set(counts), f"STATE {state} ran ahead of delivery"
    assert max(result.states, key=lambda s: s["last_id"])["last_id"] < n - 1


def test_state_lines_appear_during_a_long_run(emu, rule, tmp_path):
    n = 4000
    config = base_config(emu, rule, batch_size_rows=1000, state_flush_interval_seconds=0)
    # A tap that takes a while: 500 lines, then a pause, like rows arriving from a database.
    text = singer([record(i) for i in range(n)], state_every=500)
    result = run_target(config, text, tmp_path, pace=(500, 0.2))
    assert result.returncode == 0, result.stderr
    # Checkpoints that become ready together collapse into the newest one, so the count
    # varies; what matters is that several arrive before the end, in order.
    assert len(result.states) >= 3
    assert result.states[0]["last_id"] < n - 1
    assert [s["last_id"] for s in result.states] == sorted(s["last_id"] for s in result.states)
    assert result.states[-1] == {"last_id": n - 1}
    assert_exactly_once(emu, n)


def test_no_secret_or_raw_email_appears_anywhere_at_debug(emu, rule, tmp_path):
    emu.add_fault({"path": "/rest/conversionEvents", "action": {"expire_token": True}, "after": 0})
    emu.add_fault({"reject_event_ids": ["evt-3"], "style": "422", "times": 0})
    rows = [
        record(i, event_key=f"evt-{i}", first_name="Grace", last_name="Hopper") for i in range(30)
    ]
    rows.append(record(99, occurred_at="2001-01-01", email="leaky.person@example.org"))
    config = base_config(
        emu, rule, refresh_token="refresh-1", client_id="client-id", client_secret="client-secret",
        dry_run_output_path=str(tmp_path / "dry.jsonl"),
        field_mappings={**base_config(emu, rule)["field_mappings"], "event_id": "event_key"},
    )  # fmt: skip
    result = run_target(
        config,
        singer(rows),
        tmp_path,
        env={"TARGET_LINKEDIN_CAPI_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"},
    )
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr
    rejected_text = (tmp_path / "rejected.jsonl").read_text()
    outputs = result.stderr + result.stdout + rejected_text
    refreshed = [r for r in emu.state.requests() if r["path"] == "/oauth/v2/accessToken"]
    assert refreshed
    secrets = ["emulator-token", "refresh-1", "client-secret"]
    # The token LinkedIn issued during the run must not leak either.
    secrets += [e["headers"].get("authorization", "")[7:] for e in emu.state.requests()]
    for secret in filter(None, secrets):
        assert secret not in outputs
    for raw in [
        "leaky.person@example.org",
        "person1@example.com",
        "Person1@Example.COM",
        "Grace",
        "Hopper",
    ]:
        assert raw.lower() not in outputs.lower()


def test_dry_run_sends_nothing_and_writes_requests_without_authorization(emu, rule, tmp_path):
    config = base_config(emu, rule, dry_run=True, dry_run_output_path=str(tmp_path / "dry.jsonl"),
                         batch_size_rows=40)  # fmt: skip
    result = run_target(config, singer([record(i) for i in range(100)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.states == []  # delivering nothing, a dry run must not move the bookmark
    assert emu.state.accepted_events() == []
    assert all(r["method"] == "GET" for r in emu.state.requests())
    import json

    lines = [json.loads(x) for x in (tmp_path / "dry.jsonl").read_text().splitlines()]
    assert [len(x["body"]["elements"]) for x in lines] == [40, 40, 20]
    assert all("Authorization" not in x["headers"] and x["method"] == "POST" for x in lines)
    assert lines[0]["url"].endswith("/rest/conversionEvents")


DISABLED = (
    "Invalid Conversion information provided, this event(s) is associated to a conversion "
    "that's marked as deleted. Conversion enabled should be true, indices [0, 1, 2] (0-indexed)"
)


def test_a_rule_disabled_mid_run_stops_the_run_instead_of_rejecting_every_event(
    emu, rule, tmp_path
):
    emu.add_fault({"path": "/rest/conversionEvents", "after": 1, "times": 0, "status": 400,
                   "body": {"message": DISABLED, "status": 400}})  # fmt: skip
    n = 900
    config = base_config(emu, rule, batch_size_rows=300, max_inflight_batches=1)
    result = run_target(config, singer([record(i) for i in range(n)], state_every=300), tmp_path)
    assert result.returncode == 1
    assert "because of their conversion rule" in result.stderr and "Traceback" not in result.stderr
    assert not [line for line in result.rejected if line["source"] == "linkedin"]
    assert len(emu.state.accepted_events()) == 300
    assert all(state["last_id"] < 300 for state in result.states)


def test_a_refusal_of_every_single_event_without_index_is_fatal_not_a_mass_rejection(
    emu, rule, tmp_path
):
    emu.add_fault({"path": "/rest/conversionEvents", "times": 0, "status": 400,
                   "body": {"message": "Invalid conversion event", "status": 400}})  # fmt: skip
    n = 400
    result = run_target(
        base_config(emu, rule, max_inflight_batches=1),
        singer([record(i) for i in range(n)]),
        tmp_path,
    )
    assert result.returncode == 1
    assert "not a problem of single events" in result.stderr
    assert len(result.rejected) < n
    assert result.states == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"type": "RECORD", "stream": "public-conversions", "rec\n',
            "Unable to parse a line of input (not JSON)",
        ),
        (
            '{"type": "RECORD", "stream": "orders", "record": {"id": 1}}\n',
            "before a corresponding schema",
        ),
    ],
)
def test_broken_input_is_one_clear_error_without_traceback(emu, rule, tmp_path, text, expected):
    result = run_target(base_config(emu, rule), text, tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert text.strip() not in result.stderr  # the line may hold personal data


# -- secrets and the network (safety issue: items 5, 9, 10, 11) -------------------------------

DEBUG_ENV = {"TARGET_LINKEDIN_CAPI_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}
REFRESH_CONFIG = {"refresh_token": "refresh-1", "client_id": "client-id",
                  "client_secret": "client-secret"}  # fmt: skip


def test_a_token_read_from_a_file_with_its_newline_works(emu, rule, tmp_path):
    config = base_config(emu, rule, access_token="emulator-token\n")
    result = run_target(config, singer([record(i) for i in range(20)]), tmp_path, env=DEBUG_ENV)
    assert result.returncode == 0, result.stderr
    assert_exactly_once(emu, 20)
    assert "emulator-token" not in result.stderr


def test_a_token_with_an_inner_line_break_is_a_config_error_that_does_not_echo_it(
    emu, rule, tmp_path
):
    config = base_config(emu, rule, access_token="emulator\n-token-XYZ")
    result = run_target(config, singer([record(i) for i in range(5)]), tmp_path, env=DEBUG_ENV)
    assert result.returncode == 1
    assert "access_token" in result.stderr
    for form in ("-token-XYZ", "token-XYZ", "emulator\\n", "emulator%0A"):
        assert form not in result.stderr + result.stdout
    assert emu.state.requests() == []


@pytest.mark.parametrize(("status", "code"), [(400, "BAD_THING"), (403, None), (426, "X")])
def test_linkedin_text_in_a_fatal_answer_is_redacted_even_at_debug(
    emu, rule, tmp_path, status, code
):
    body = {"status": status, "message": "Member leaky.person@example.org at 198.51.100.23 "
            "and 2001:db8::23 refused"}  # fmt: skip
    if code:
        body["code"] = code
    emu.add_fault({"path": "/rest/conversionEvents", "status": status, "body": body, "times": 0})
    result = run_target(
        base_config(emu, rule), singer([record(i) for i in range(5)]), tmp_path, env=DEBUG_ENV
    )
    assert result.returncode == 1
    assert "DEBUG" in result.stderr and "<redacted>" in result.stderr
    outputs = result.stderr + result.stdout + str(result.rejected)
    for raw in ("leaky.person", "example.org", "198.51.100.23", "2001:db8::23"):
        assert raw not in outputs


@pytest.mark.parametrize("path", ["/oauth/v2/accessToken", "/rest/conversionEvents"])
def test_a_redirect_is_not_followed_and_stops_the_run(emu, rule, tmp_path, path):
    emu.add_fault({
        "path": path, "status": 307, "times": 0, "body": {},
        "headers": {"Location": f"{emu.base_url.rsplit('/rest', 1)[0]}/stolen?q=1"},
    })  # fmt: skip
    config = base_config(emu, rule, **REFRESH_CONFIG)
    if path.startswith("/oauth"):
        config.pop("access_token")  # the first call refreshes
    result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 1
    assert "does not redirect" in result.stderr and "stolen" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not [r for r in emu.state.requests() if r["path"].startswith("/stolen")]
    assert result.states == []


def rotating_emulator():
    return Emulator(
        port=0, tokens=[], accounts=[5010001], campaigns={5010001: [6010001]},
        oauth_clients={"client-id": "client-secret"}, refresh_tokens=["refresh-1"],
        rotate_refresh_tokens=True,
    )  # fmt: skip


def test_a_rotated_refresh_token_is_kept_for_the_next_run(tmp_path):
    token_file = tmp_path / "private" / "refresh-token"
    with rotating_emulator() as emu:
        rule = emu.add_rule(account=5010001, name="Purchases (CAPI)", type="PURCHASE")
        config = base_config(emu, rule, refresh_token_path=str(token_file), **REFRESH_CONFIG)
        config.pop("access_token")
        for run in range(3):  # the configured refresh-1 is spent after the first run
            work = tmp_path / f"run{run}"
            work.mkdir()
            result = run_target(config, singer([record(i) for i in range(5)]), work)
            assert result.returncode == 0, result.stderr
            assert "WARNING" not in result.stderr
            stored = token_file.read_text().strip()
            assert stored and stored != "refresh-1"
            assert stored not in result.stderr
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert len(emu.state.accepted_events()) == 15


def test_a_rotated_refresh_token_without_a_path_warns_once(tmp_path):
    with rotating_emulator() as emu:
        rule = emu.add_rule(account=5010001, name="Purchases (CAPI)", type="PURCHASE")
        config = base_config(emu, rule, **REFRESH_CONFIG)
        config.pop("access_token")
        result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
        assert len(warnings) == 1 and "refresh_token_path" in warnings[0]
        assert "stop working" in warnings[0]


def test_a_batch_refused_after_a_failure_keeps_its_records_out_of_any_checkpoint(
    emu, rule, tmp_path
):
    """Stream B's record is buffered when stream A's batch fails; the STATE after it must
    not be written on the way out, since B's record was never sent."""
    emu.add_fault({"path": "/rest/conversionEvents", "status": 403, "times": 0})
    config = base_config(
        emu, rule, batch_size_rows=2, state_flush_interval_seconds=3600, retry_max_attempts=1
    )

    def line(message: dict) -> str:
        return json.dumps(message)

    schema_b = json.loads(singer([], stream="b").splitlines()[0])
    schema_a = json.loads(singer([], stream="a").splitlines()[0])
    lines = [
        line(schema_a),
        line(schema_b),
        line({"type": "RECORD", "stream": "b", "record": record(2000)}),
        line({"type": "STATE", "value": {"bookmarks": {"b": 2000}}}),
        line({"type": "RECORD", "stream": "a", "record": record(1)}),
        line({"type": "RECORD", "stream": "a", "record": record(2)}),
    ]
    # A's full batch fails (403) while the input is still open; then the input ends.
    result = run_target(config, "\n".join(lines) + "\n", tmp_path, pace=(6, 3.0))
    assert result.returncode == 1
    assert result.states == [], result.stdout
    assert delivered(emu, 3000) == Counter()
