"""`--check` against the bundled emulator: one line per check, exit 1 on any FAIL, and
nothing written to LinkedIn in any case."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from linkedin_capi_emulator import Emulator

from target_linkedin_capi.commands.check import Checker, file_problem, ledger_line
from target_linkedin_capi.commands.output import FAIL, PASS, SKIP, WARN
from target_linkedin_capi.config.settings import parse_settings
from target_linkedin_capi.linkedin import vocabulary
from target_linkedin_capi.run import Run
from tests.commands.emulated import (
    DEMO_RULE_NAME,
    assert_nothing_written,
    demo_config,
    invoke,
    run_cli,
)
from tests.constants import API_BASE, EMULATOR_ACCOUNT, EMULATOR_TOKEN, OAUTH_URL, TOKEN
from tests.helpers import settings_of

DAY = 86_400


def test_the_demo_setup_passes_every_check_and_writes_nothing(
    emu: Emulator, tmp_path: Path
) -> None:
    outcome = invoke(demo_config(emu, tmp_path), tmp_path, "--check")
    assert outcome.exit_code == 0, outcome.stdout
    lines = outcome.stdout.splitlines()
    for expected in (
        "PASS  access token [access_token]",
        "PASS  api_version [api_version]",
        f"PASS  ad account {EMULATOR_ACCOUNT} [ad_account_id]",
        f"PASS  rule '{DEMO_RULE_NAME}' [conversion_rule_name]: no enabled Conversions API "
        "rule has this name",
        "PASS  campaigns of rule",
        "PASS  rejected_records_path folder [rejected_records_path]",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, outcome.stdout)
    assert "first run creates it" in outcome.stdout
    assert lines[-1].startswith("OK: 0 failed")
    assert_nothing_written(emu)
    assert not (tmp_path / "out").exists()  # the folder check leaves nothing behind


def test_json_is_one_object_with_every_check(emu: Emulator, tmp_path: Path) -> None:
    outcome = invoke(demo_config(emu, tmp_path), tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 0
    report = outcome.json()
    assert report["ok"] is True
    assert report["counts"][FAIL] == 0
    settings = [check["setting"] for check in report["checks"]]
    for setting in ("access_token", "api_version", "ad_account_id", "conversion_rule_name"):
        assert setting in settings
    assert {check["status"] for check in report["checks"]} <= {PASS, WARN, SKIP}


def test_an_existing_rule_resolves_by_name_and_a_drift_is_announced(
    emu: Emulator, tmp_path: Path
) -> None:
    rule = emu.add_rule(EMULATOR_ACCOUNT, DEMO_RULE_NAME, type="PURCHASE", post_click=30)
    config = demo_config(emu, tmp_path, post_click_attribution_window_size=90)
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 0
    line = outcome.line("conversion_rule_name")
    assert line["status"] == PASS
    assert f"rule {rule} " in line["message"]
    assert "first run changes post_click_attribution_window_size 30 -> 90" in line["message"]
    assert_nothing_written(emu)


def test_a_revoked_token_fails_naming_access_token_and_never_shows_it(
    emu: Emulator, tmp_path: Path
) -> None:
    emu.revoke_token(EMULATOR_TOKEN)
    outcome = run_cli(demo_config(emu, tmp_path), tmp_path, "--check")
    assert outcome.exit_code == 1
    failing = [line for line in outcome.stdout.splitlines() if line.startswith("FAIL")]
    assert failing and failing[0].startswith("FAIL  access token [access_token]")
    assert "revoked" in failing[0]
    assert EMULATOR_TOKEN not in outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert_nothing_written(emu)


def test_a_sunset_version_fails_naming_api_version(tmp_path: Path) -> None:
    with Emulator(active_versions=["202609"]) as emulator:
        config = demo_config(emulator, tmp_path, api_version="202608")
        outcome = invoke(config, tmp_path, "--check", "--format", "json")
        assert outcome.exit_code == 1
        line = outcome.line("api_version")
        assert line["status"] == FAIL
        assert "Set api_version" in line["message"]
        assert_nothing_written(emulator)


def test_a_version_near_its_documented_sunset_warns(emu: Emulator, tmp_path: Path) -> None:
    settings = parse_settings(demo_config(emu, tmp_path, api_version="202601"))
    run = Run(settings, lambda state: None)
    try:
        sunset = vocabulary.VERSION_SUNSETS["202601"]
        near = Checker(run, today=date.fromordinal(sunset.toordinal() - 30)).run()
        far = Checker(run, today=date.fromordinal(sunset.toordinal() - 200)).run()
    finally:
        run.close()
    (version,) = [line for line in near if line.setting == "api_version"]
    assert version.status == WARN
    assert sunset.isoformat() in version.message and "in 30 day(s)" in version.message
    (version,) = [line for line in far if line.setting == "api_version"]
    assert version.status == PASS


def test_a_disabled_rule_fails_naming_conversion_rule_id(emu: Emulator, tmp_path: Path) -> None:
    rule = emu.add_rule(EMULATOR_ACCOUNT, "Switched off", type="LEAD", enabled=False)
    config = demo_config(emu, tmp_path, conversion_rule_id=str(rule), conversion_rule_name=None)
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    line = outcome.line("conversion_rule_id")
    assert line["status"] == FAIL
    assert "disabled" in line["message"]
    assert_nothing_written(emu)


def test_a_rule_of_another_method_or_account_fails(emu: Emulator, tmp_path: Path) -> None:
    tag = emu.add_rule(
        EMULATOR_ACCOUNT, "Insight tag", type="LEAD", conversion_method="INSIGHT_TAG"
    )
    config = demo_config(emu, tmp_path, conversion_rule_id=str(tag), conversion_rule_name=None)
    line = invoke(config, tmp_path, "--check", "--format", "json").line("conversion_rule_id")
    assert line["status"] == FAIL and "not the Conversions API" in line["message"]

    other = emu.add_rule(5010002, "Elsewhere", type="LEAD")
    config = demo_config(emu, tmp_path, conversion_rule_id=str(other), conversion_rule_name=None)
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    line = outcome.line("conversion_rule_id")
    assert line["status"] == FAIL


def test_a_disabled_rule_of_the_configured_name_warns_that_a_new_one_is_created(
    emu: Emulator, tmp_path: Path
) -> None:
    emu.add_rule(EMULATOR_ACCOUNT, DEMO_RULE_NAME, type="PURCHASE", enabled=False)
    outcome = invoke(demo_config(emu, tmp_path), tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 0
    line = outcome.line("conversion_rule_name")
    assert line["status"] == WARN and "first run creates it" in line["message"]


def test_a_campaign_of_another_account_fails_naming_campaign_ids(
    emu: Emulator, tmp_path: Path
) -> None:
    config = demo_config(emu, tmp_path, campaign_ids=["6010001", "6020001"])
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    line = outcome.line("campaign_ids")
    assert line["status"] == FAIL
    assert "6020001" in line["message"] and "6010001" not in line["message"]
    assert_nothing_written(emu)


def test_a_campaign_of_a_rule_entry_names_the_entry(emu: Emulator, tmp_path: Path) -> None:
    config = demo_config(
        emu,
        tmp_path,
        conversion_rule_name=None,
        conversion_type=None,
        campaign_ids=None,
        conversion_rules=[
            {
                "streams": ["orders"],
                "conversion_rule_name": "Orders",
                "conversion_type": "PURCHASE",
                "campaign_ids": ["6020001"],
            }
        ],
    )
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    assert outcome.line("conversion_rules[0].campaign_ids")["status"] == FAIL
    assert outcome.line("conversion_rules[0].ad_account_id")["status"] == PASS


@pytest.mark.parametrize(
    "setting", ["run_report_path", "rejected_records_path", "dry_run_output_path"]
)
def test_an_unwritable_report_folder_fails_naming_its_setting(
    emu: Emulator, tmp_path: Path, setting: str
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    config = demo_config(emu, tmp_path, **{setting: str(blocker / "reports" / "file.json")})
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    line = outcome.line(setting)
    assert line["status"] == FAIL
    assert "not a folder" in line["message"]


def test_a_viewer_or_a_member_without_role_fails_naming_ad_account_id(
    emu: Emulator, tmp_path: Path
) -> None:
    emu.add_token("viewer-token", {EMULATOR_ACCOUNT: "VIEWER"})
    config = demo_config(emu, tmp_path, access_token="viewer-token")
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    line = outcome.line("ad_account_id")
    assert line["status"] == FAIL and "VIEWER" in line["message"]

    emu.add_token("other-token", {5010002: "ACCOUNT_MANAGER"})
    config = demo_config(emu, tmp_path, access_token="other-token")
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    assert outcome.line("ad_account_id")["status"] == FAIL
    # The rule and campaigns cannot be checked without the account: said, not failed twice.
    assert outcome.line("conversion_rule_name")["status"] == SKIP


def test_a_token_that_expires_within_14_days_warns(tmp_path: Path) -> None:
    with Emulator(token_ttl_seconds=5 * DAY) as emulator:
        config = demo_config(
            emulator, tmp_path, refresh_token="refresh-1", client_id="client-id",
            client_secret="client-secret",
        )  # fmt: skip
        outcome = invoke(config, tmp_path, "--check", "--format", "json")
        assert outcome.exit_code == 0, outcome.stdout  # a warning does not fail the check
        line = outcome.check("token scopes and expiry")
        assert line["status"] == WARN
        assert "expires in 4 day(s)" in line["message"] or "expires in 5 day(s)" in line["message"]
        assert_nothing_written(emulator)


def test_missing_scopes_or_an_inactive_token_fail(requests_mock: Any) -> None:
    settings = settings_of(
        refresh_token="refresh", client_id="app", client_secret="app-secret-value"
    )
    requests_mock.get(f"{API_BASE}/adAccountUsers", json={"elements": [], "paging": {"total": 0}})
    introspect = OAUTH_URL.rsplit("/", 1)[0] + "/introspectToken"
    for answer, expected in (
        ({"active": True, "status": "active", "scope": "r_ads"}, "rw_conversions"),
        ({"active": False, "status": "revoked"}, "revoked"),
    ):
        requests_mock.post(introspect, json=answer)
        run = Run(settings, lambda state: None)
        try:
            checker = Checker(run)
            checker.check_token()
            checker.check_introspection()
        finally:
            run.close()
        (line,) = [line for line in checker.lines if line.check == "token scopes and expiry"]
        assert line.status == FAIL and expected in line.message
        assert line.setting == "access_token"
        assert TOKEN not in line.message


def test_refresh_credentials_are_checked_by_a_refresh(emu: Emulator, tmp_path: Path) -> None:
    app = {"client_id": "client-id", "client_secret": "client-secret", "access_token": None}
    config = demo_config(emu, tmp_path, refresh_token="refresh-1", **app)
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.check("token refresh")["status"] == PASS
    assert outcome.check("token scopes and expiry")["status"] == PASS  # introspected

    config = demo_config(emu, tmp_path, refresh_token="not-a-refresh-token", **app)
    outcome = invoke(config, tmp_path, "--check", "--format", "json")
    assert outcome.exit_code == 1
    failed = [c for c in outcome.json()["checks"] if c["status"] == FAIL]
    assert failed[0]["setting"] == "refresh_token"
    assert "not-a-refresh-token" not in outcome.stdout


def test_ledger_line_reads_the_ledger_named_by_its_settings(tmp_path: Path) -> None:
    off = ledger_line(settings_of(ledger_enabled=False))
    assert off.status == SKIP
    url = f"sqlite:///{tmp_path}/ledger.db"
    good = ledger_line(settings_of(ledger_url=url))
    assert good.status == PASS
    assert not (tmp_path / "ledger.db").exists()  # read-only: nothing created
    bad = ledger_line(settings_of(ledger_url="nonsense://x"))
    assert bad.status == FAIL and bad.setting == "ledger_url"


def test_a_ledger_file_not_made_yet_is_said_so_and_its_folder_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    default = ledger_line(settings_of())
    assert default.status == PASS and "can be read" not in default.message
    folder = tmp_path / ".linkedin-capi"
    assert f"does not exist yet; the first run creates it in {folder}" in default.message
    assert not folder.exists()

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    blocked = ledger_line(settings_of(ledger_url=f"sqlite:///{blocker}/sub/ledger.db"))
    assert blocked.status == FAIL and blocked.setting == "ledger_url"
    assert "not a folder" in blocked.message

    url = f"sqlite:///{tmp_path}/made.db"
    assert ledger_line(settings_of(ledger_url=url, ledger_enabled=True)).status == PASS
    from target_linkedin_capi.delivery.ledger import open_ledger

    open_ledger(url).close()  # as a run creates it
    made = ledger_line(settings_of(ledger_url=url))
    assert made.status == PASS and made.message.endswith("can be read")


def test_file_problem_accepts_a_folder_to_be_created_and_refuses_a_folder_path(
    tmp_path: Path,
) -> None:
    assert file_problem(tmp_path / "new" / "deeper" / "file.jsonl") is None
    assert not (tmp_path / "new").exists()
    assert file_problem(tmp_path) is not None


def test_a_linkedin_answer_quoting_the_token_does_not_print_it(requests_mock: Any) -> None:
    answer = {"status": 401, "code": "INVALID_ACCESS_TOKEN", "message": f"Bad token {TOKEN}"}
    requests_mock.get(f"{API_BASE}/adAccountUsers", status_code=401, json=answer)
    run = Run(settings_of(), lambda state: None)
    try:
        checker = Checker(run)
        checker.check_token()
    finally:
        run.close()
    (line,) = checker.lines
    assert line.status == FAIL and line.setting == "access_token"
    assert TOKEN not in line.message


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        ({"exc": requests.exceptions.ConnectionError}, "LinkedIn could not be reached"),
        ({"status_code": 426, "json": {"status": 426}}, "LinkedIn refused api_version"),
        ({"status_code": 401, "json": {"status": 401}}, "the token was not accepted"),
    ],
)
def test_skipped_checks_name_the_real_cause_of_the_failed_token_check(
    requests_mock: Any, answer: dict[str, Any], cause: str
) -> None:
    requests_mock.get(f"{API_BASE}/adAccountUsers", **answer)
    run = Run(settings_of(retry_max_attempts=1), lambda state: None)
    try:
        checker = Checker(run)
        checker.check_token()
        checker.check_account("123", "ad_account_id")
    finally:
        run.close()
    (account,) = [line for line in checker.lines if line.setting == "ad_account_id"]
    assert account.status == SKIP and account.message == f"not checked: {cause}"


def test_an_operator_command_prints_no_sdk_chatter_before_its_answer(
    emu: Emulator, tmp_path: Path
) -> None:
    # Settings from the environment (as Meltano passes them) made the SDK log one INFO
    # line per setting before the command's own output.
    import os
    import subprocess
    import sys

    from tests.helpers import child_env

    env = child_env()
    config = demo_config(emu, tmp_path)
    for name in [name for name, value in config.items() if isinstance(value, str)]:
        env[f"TARGET_LINKEDIN_CAPI_{name.upper()}"] = config.pop(name)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    command = ["--config", str(path), "--config", "ENV", "--check"]
    proc = subprocess.run(
        [sys.executable, "-m", "target_linkedin_capi", *command],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=os.fspath(tmp_path),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  access token" in proc.stdout
    assert "from env variable" not in proc.stderr
    assert "Parsing env var" not in proc.stderr
    assert "INFO     | singer_sdk" not in proc.stderr, proc.stderr


def test_an_unreachable_api_fails_fast_naming_api_base_url(emu: Emulator, tmp_path: Path) -> None:
    config = demo_config(emu, tmp_path, api_base_url="http://127.0.0.1:9/rest")
    outcome = run_cli(config, tmp_path, "--check")
    assert outcome.exit_code == 1
    failing = [line for line in outcome.stdout.splitlines() if line.startswith("FAIL")]
    assert failing[0].startswith("FAIL  LinkedIn reachable [api_base_url]")
    assert "checkpoint" not in outcome.stdout  # a command marks nothing as delivered
    # Two attempts, not a scheduled run's patience (8 attempts over about 45 s).
    assert outcome.stderr.count("retrying") <= 1
