"""Settings (settings.py): config errors name the setting; multi-rule merge; the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from target_linkedin_capi.config.settings import RULE_KEYS, Settings, parse_settings
from target_linkedin_capi.errors import ConfigError

MakeSettings = Callable[..., Settings]


def config_error(make_settings: MakeSettings, **overrides: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        make_settings(**overrides)
    return caught.value


# -- a valid config --------------------------------------------------------------------------


def test_minimal_config(make_settings: MakeSettings) -> None:
    settings = make_settings()
    (rule,) = settings.rules
    assert (rule.account_id, rule.rule_id, rule.streams) == ("123", "456", None)
    assert rule.attribution_type == "LAST_TOUCH_BY_CAMPAIGN"
    assert (rule.post_click_window, rule.view_through_window) == (30, 7)
    assert settings.batch_size == 5000
    assert settings.api_version == "202609"
    assert settings.api_version_number == 202609


def test_urn_forms_are_accepted(make_settings: MakeSettings) -> None:
    settings = make_settings(
        ad_account_id="urn:li:sponsoredAccount:123",
        conversion_rule_id="urn:lla:llaPartnerConversion:456",
        campaign_ids=["urn:li:sponsoredCampaign:9", "10", "9"],
    )
    (rule,) = settings.rules
    assert (rule.account_id, rule.rule_id) == ("123", "456")
    assert rule.campaign_ids == ("9", "10")


def test_enum_values_are_case_insensitive(make_settings: MakeSettings) -> None:
    (rule,) = make_settings(
        conversion_type="purchase", attribution_type="last_touch_by_conversion"
    ).rules
    assert (rule.conversion_type, rule.attribution_type) == ("PURCHASE", "LAST_TOUCH_BY_CONVERSION")


def test_repr_hides_secrets(make_settings: MakeSettings) -> None:
    settings = make_settings(refresh_token="rt-SECRET", client_id="cid", client_secret="cs-SECRET")
    assert "SECRET" not in repr(settings)
    assert settings.can_refresh


# -- config errors name the setting ----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "setting", "words"),
    [
        ({"ad_account_id": None}, "ad_account_id", "required"),
        ({"ad_account_id": "acct-1"}, "ad_account_id", "acct-1"),
        ({"conversion_rule_id": "urn:li:conversion:1"}, "conversion_rule_id", "rule id"),
        ({"conversion_type": "BUY_STUFF"}, "conversion_type", "BUY_STUFF"),
        ({"attribution_type": "FIRST_TOUCH"}, "attribution_type", "FIRST_TOUCH"),
        ({"post_click_attribution_window_size": 14}, "post_click_attribution_window_size", "14"),
        (
            {"view_through_attribution_window_size": 365},
            "view_through_attribution_window_size",
            "365",
        ),
        ({"batch_size_rows": 5001}, "batch_size_rows", "5000"),
        ({"api_version": "2026-09"}, "api_version", "2026-09"),
        ({"api_version": "202613"}, "api_version", "202613"),
        ({"api_version": "v202609"}, "api_version", "v202609"),
        ({"api_version": "latest"}, "api_version", "latest"),
        ({"api_version": ""}, "api_version", "YYYYMM"),
        ({"api_version": "209901"}, "api_version", "future"),
        ({"access_token": None}, "access_token", "credentials"),
        ({"conversion_rule_id": None}, "conversion_rule_id", "conversion_rule_name"),
        ({"campaign_ids": ["camp-1"]}, "campaign_ids", "camp-1"),
        ({"field_mappings": {"emial": "email"}}, "field_mappings.emial", "unknown field"),
        ({"field_defaults": {"currency": "USD"}}, "field_defaults.currency", "unknown field"),
    ],
)
def test_config_error_names_the_setting(
    make_settings: MakeSettings, overrides: dict[str, Any], setting: str, words: str
) -> None:
    error = config_error(make_settings, **overrides)
    assert error.setting == setting
    assert str(error).startswith(f"{setting}: ")
    assert words in str(error)


def test_365_day_window_only_for_allowed_types(make_settings: MakeSettings) -> None:
    for allowed in ("PURCHASE", "ADD_TO_CART", "LEAD", "QUALIFIED_LEAD", "SUBMIT_APPLICATION"):
        (rule,) = make_settings(
            conversion_type=allowed, post_click_attribution_window_size=365
        ).rules
        assert rule.post_click_window == 365
    error = config_error(
        make_settings, conversion_type="SIGN_UP", post_click_attribution_window_size=365
    )
    assert error.setting == "post_click_attribution_window_size"
    assert "SIGN_UP" in error.problem
    # No type known (an existing rule by id): a 365-day window cannot be checked -> refused.
    error = config_error(make_settings, post_click_attribution_window_size=365)
    assert error.setting == "post_click_attribution_window_size"


@pytest.mark.parametrize("window", [1, 7, 30, 90])
def test_allowed_windows(make_settings: MakeSettings, window: int) -> None:
    (rule,) = make_settings(
        post_click_attribution_window_size=window, view_through_attribution_window_size=window
    ).rules
    assert (rule.post_click_window, rule.view_through_window) == (window, window)


@pytest.mark.parametrize("kind", ["MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD"])
def test_mql_sql_need_api_version_202608(make_settings: MakeSettings, kind: str) -> None:
    error = config_error(make_settings, conversion_type=kind, api_version="202607")
    assert error.setting == "conversion_type"
    assert "202608" in error.problem
    assert (
        make_settings(conversion_type=kind, api_version="202608").rules[0].conversion_type == kind
    )


def test_batch_size_5000_is_fine(make_settings: MakeSettings) -> None:
    assert make_settings(batch_size_rows=5000).batch_size == 5000
    assert make_settings(batch_size_rows=10).batch_size == 10


def test_api_version_with_patch_suffix(make_settings: MakeSettings) -> None:
    settings = make_settings(api_version="202609.01")
    assert settings.api_version == "202609.01"
    assert settings.api_version_number == 202609


def test_missing_api_version_uses_default(make_config: Callable[..., dict[str, Any]]) -> None:
    assert parse_settings(make_config(api_version=None)).api_version == "202609"


def test_old_api_version_warns(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    make_settings(api_version="202501")
    assert any(
        "api_version 202501" in r.getMessage() and "sunset" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"refresh_token": "rt"}, "client_id"),
        ({"refresh_token": "rt", "client_id": "c"}, "client_secret"),
        ({"client_id": "c", "client_secret": "s"}, "refresh_token"),
    ],
)
def test_partial_refresh_credentials(
    make_settings: MakeSettings, given: dict[str, str], missing: str
) -> None:
    error = config_error(make_settings, **given)
    assert error.setting == missing
    assert "refresh_token, client_id and client_secret" in error.problem


def test_refresh_credentials_alone_are_enough(make_settings: MakeSettings) -> None:
    settings = make_settings(
        access_token=None, refresh_token="rt", client_id="c", client_secret="s"
    )
    assert settings.can_refresh
    assert settings.access_token is None


def test_no_credentials_message_is_helpful(make_settings: MakeSettings) -> None:
    error = config_error(make_settings, access_token="")
    assert "Direct API" in error.problem
    assert "rw_conversions" in error.problem


def test_name_without_type_is_an_error(make_settings: MakeSettings) -> None:
    error = config_error(make_settings, conversion_rule_id=None, conversion_rule_name="Purchases")
    assert error.setting == "conversion_type"
    (rule,) = make_settings(
        conversion_rule_id=None, conversion_rule_name="Purchases", conversion_type="PURCHASE"
    ).rules
    assert (rule.rule_id, rule.name, rule.conversion_type) == (None, "Purchases", "PURCHASE")


@pytest.mark.parametrize("setting", ["api_base_url", "oauth_token_url"])
def test_plain_http_refused_unless_loopback(make_settings: MakeSettings, setting: str) -> None:
    for url in (
        "http://api.example.com/rest",
        "http://10.0.0.1/rest",
        "http://localhost.evil.com/x",
    ):
        error = config_error(make_settings, **{setting: url})
        assert error.setting == setting
        assert "https" in error.problem
    for url in ("ftp://example.com/rest", "not a url"):
        assert config_error(make_settings, **{setting: url}).setting == setting


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/rest",
        "http://127.0.0.1:9/rest",
        "http://127.1.2.3/rest",
        "http://[::1]:8080/rest",
        "https://api.example.com/rest/",
    ],
)
def test_loopback_http_and_https_allowed(make_settings: MakeSettings, url: str) -> None:
    settings = make_settings(api_base_url=url)
    assert settings.api_base_url == url.rstrip("/")


# -- multi-rule ------------------------------------------------------------------------------


def multi(make_settings: MakeSettings, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "conversion_rule_id": None,
        "conversion_type": "PURCHASE",
        "attribution_type": "LAST_TOUCH_BY_CONVERSION",
        "post_click_attribution_window_size": 90,
        "campaign_ids": ["1"],
        "field_mappings": {"email": "mail", "timestamp": "ts"},
        "field_defaults": {"value_currency": "USD", "external_id": "anon"},
        "conversion_rules": [
            {"streams": ["orders", "shop_*"], "conversion_rule_id": "11"},
            {
                "streams": ["signups"],
                "conversion_rule_name": "Sign-ups",
                "conversion_type": "SIGN_UP",
                "ad_account_id": "999",
                "field_mappings": {"email": "user.email"},
                "field_defaults": {"value_currency": "EUR"},
            },
            {"streams": ["orders"], "conversion_rule_id": "33", "campaign_ids": ["7"]},
        ],
    }
    base.update(overrides)
    return make_settings(**base)


def test_entries_inherit_top_level_rule_keys(make_settings: MakeSettings) -> None:
    orders, signups, orders2 = multi(make_settings).rules
    assert (orders.rule_id, orders.name) == ("11", None)
    assert orders.account_id == "123"
    assert orders.conversion_type == "PURCHASE"
    assert orders.attribution_type == "LAST_TOUCH_BY_CONVERSION"
    assert orders.post_click_window == 90
    assert orders.campaign_ids == ("1",)
    assert (signups.rule_id, signups.name, signups.conversion_type) == (None, "Sign-ups", "SIGN_UP")
    assert signups.account_id == "999"
    assert orders2.campaign_ids == ("7",)


def test_identity_keys_are_not_inherited(make_settings: MakeSettings) -> None:
    # A top-level id declares the fallback rule; it is never the id of an entry.
    settings = multi(make_settings, conversion_rule_id="500")
    ids = [(rule.rule_id, rule.name, rule.streams) for rule in settings.rules]
    assert ids == [
        ("11", None, ("orders", "shop_*")),
        (None, "Sign-ups", ("signups",)),
        ("33", None, ("orders",)),
        ("500", None, None),
    ]
    # A top-level name is not inherited either: an entry without its own id or name is
    # an error naming the entry.
    with pytest.raises(ConfigError) as caught:
        make_settings(
            conversion_rule_id=None,
            conversion_rule_name="Top",
            conversion_type="LEAD",
            conversion_rules=[{"streams": ["a"]}],
        )
    assert caught.value.setting == "conversion_rules[0].conversion_rule_id"


def test_entry_mappings_merge_key_by_key(make_settings: MakeSettings) -> None:
    orders, signups, _ = multi(make_settings).rules
    assert dict(orders.field_mappings) == {"email": "mail", "timestamp": "ts"}
    assert dict(signups.field_mappings) == {"email": "user.email", "timestamp": "ts"}
    assert dict(orders.field_defaults) == {"value_currency": "USD", "external_id": "anon"}
    assert dict(signups.field_defaults) == {"value_currency": "EUR", "external_id": "anon"}


def test_rules_for_stream_with_globs(make_settings: MakeSettings) -> None:
    settings = multi(make_settings)
    assert [r.rule_id for r in settings.rules_for("orders")] == ["11", "33"]  # one row, two rules
    assert [r.rule_id for r in settings.rules_for("shop_eu")] == ["11"]
    assert [r.name for r in settings.rules_for("signups")] == ["Sign-ups"]
    assert settings.rules_for("shop") == []  # no entry, no fallback: the caller's error
    assert settings.rules_for("Orders") == []  # globs are case-sensitive


def test_fallback_top_level_rule(make_settings: MakeSettings) -> None:
    settings = multi(make_settings, conversion_rule_id="500")
    assert [r.rule_id for r in settings.rules_for("anything_else")] == ["500"]
    assert [r.rule_id for r in settings.rules_for("orders")] == ["11", "33"]  # no fallback


def test_entry_errors_name_the_entry(make_settings: MakeSettings) -> None:
    cases = [
        ({"streams": ["a"], "conversion_rule_id": "1", "conversion_type": "NOPE"},
         "conversion_rules[0].conversion_type"),
        ({"conversion_rule_id": "1"}, "conversion_rules[0].streams"),
        ({"streams": ["a"], "conversion_rule_id": "1", "field_mappings": {"nope": "x"}},
         "conversion_rules[0].field_mappings.nope"),
        ({"streams": ["a"], "conversion_rule_name": "N"}, "conversion_rules[0].conversion_type"),
    ]  # fmt: skip
    for entry, setting in cases:
        error = config_error(make_settings, conversion_rule_id=None, conversion_rules=[entry])
        assert error.setting == setting, entry


def test_explicit_holds_only_user_set_rule_settings(make_settings: MakeSettings) -> None:
    (rule,) = make_settings().rules
    assert rule.explicit == frozenset({"ad_account_id"})
    (rule,) = make_settings(
        attribution_type="LAST_TOUCH_BY_CAMPAIGN",  # equal to the default, but set by the user
        view_through_attribution_window_size=7,
        conversion_rule_name="Named",
        field_defaults={"value_currency": "USD"},
    ).rules
    assert rule.explicit == frozenset(
        {"ad_account_id", "attribution_type", "view_through_attribution_window_size"}
    )
    assert rule.explicit <= set(RULE_KEYS)


def test_explicit_in_entries_combines_top_level_and_entry(make_settings: MakeSettings) -> None:
    orders, signups, _ = multi(make_settings).rules
    top = {"ad_account_id", "conversion_type", "attribution_type",
           "post_click_attribution_window_size", "campaign_ids"}  # fmt: skip
    assert orders.explicit == frozenset(top)
    assert signups.explicit == frozenset(top)
    (entry,) = make_settings(
        conversion_rule_id=None,
        conversion_rules=[
            {
                "streams": ["a"],
                "conversion_rule_id": "1",
                "view_through_attribution_window_size": 30,
            }
        ],
    ).rules
    assert entry.explicit == frozenset({"ad_account_id", "view_through_attribution_window_size"})


# -- the CLI ---------------------------------------------------------------------------------

CLI = str(Path(sys.executable).parent / "target-linkedin-capi")
# The first line is not JSON: had stdin been read before the config was checked, the run
# would have failed on it instead of on the setting.
STDIN_LINES = (
    "this line is not JSON\n"
    '{"type":"SCHEMA","stream":"s","schema":{"properties":{"id":{"type":"integer"}}},"key_properties":["id"]}\n'
    '{"type":"RECORD","stream":"s","record":{"id":1}}\n'
)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"ad_account_id": None}, "ad_account_id"),
        ({"conversion_type": "BUY"}, "conversion_type"),
        ({"post_click_attribution_window_size": 45}, "post_click_attribution_window_size"),
        ({"batch_size_rows": 6000}, "batch_size_rows"),
        ({"api_version": "2026-09"}, "api_version"),
        ({"access_token": None}, "access_token"),
        ({"conversion_rule_id": None}, "conversion_rule_id"),
        ({"api_base_url": "http://api.example.com/rest"}, "api_base_url"),
    ],
)
def test_cli_bad_config_exits_before_reading_stdin(
    tmp_path: Path,
    make_config: Callable[..., dict[str, Any]],
    overrides: dict[str, Any],
    setting: str,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(make_config(**overrides)))
    result = subprocess.run(
        [CLI, "--config", str(config)],
        input=STDIN_LINES,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert setting in output
    assert "Traceback" not in output
    assert "parse a line" not in output  # stdin was never read
    assert "api.linkedin.test" not in output  # no call was attempted
    assert "SECRET" not in output


def test_cli_about_lists_every_setting() -> None:
    result = subprocess.run(
        [CLI, "--about", "--format=json"], capture_output=True, text=True, timeout=30, check=True
    )
    about = json.loads(result.stdout)
    properties = about["settings"]["properties"]
    issue_2_settings = {
        "access_token", "refresh_token", "client_id", "client_secret", "api_version",
        "api_base_url", "oauth_token_url", "ad_account_id", "conversion_rule_id",
        "conversion_rule_name", "conversion_type", "attribution_type",
        "post_click_attribution_window_size", "view_through_attribution_window_size",
        "campaign_ids", "conversion_rules", "field_mappings", "field_defaults",
        "batch_size_rows", "dry_run", "dry_run_output_path", "rejected_records_path",
    }  # fmt: skip
    assert issue_2_settings <= set(properties)
    for secret in ("access_token", "refresh_token", "client_id", "client_secret"):
        assert (
            properties[secret].get("secret") is True or properties[secret].get("writeOnly") is True
        ), secret
    entry = properties["conversion_rules"]["items"]["properties"]
    assert {"streams", "field_mappings", "field_defaults", *RULE_KEYS} <= set(entry)
    assert properties["api_version"]["default"] >= "202609"
    assert properties["api_base_url"]["default"] == "https://api.linkedin.com/rest"
    assert (
        properties["oauth_token_url"]["default"] == "https://www.linkedin.com/oauth/v2/accessToken"
    )


# -- secrets and URLs (safety issue: items 5, 10, 11) ----------------------------------------

SECRET_KEYS = ("access_token", "refresh_token", "client_id", "client_secret")


def refresh_config(**overrides: Any) -> dict[str, Any]:
    values = {
        "access_token": "tok-SECRET-abc123",
        "refresh_token": "rt-SECRET-abc123",
        "client_id": "cid-SECRET-abc123",
        "client_secret": "cs-SECRET-abc123",
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secrets_read_from_files_lose_surrounding_whitespace(
    make_settings: MakeSettings, key: str
) -> None:
    # `$(cat token.txt)` or a YAML block scalar leaves a trailing newline.
    raw = refresh_config()[key]
    settings = make_settings(**refresh_config(**{key: f" \t{raw}\r\n"}))
    assert getattr(settings, key) == raw
    assert raw in settings.secrets and f"{raw}\r\n" not in settings.secrets


@pytest.mark.parametrize("key", SECRET_KEYS)
@pytest.mark.parametrize("inner", ["\n", "\r", "\x00", "\x7f", " ", "\u00e9", "\u2028"])
def test_a_secret_that_cannot_be_sent_is_a_config_error_without_its_value(
    make_settings: MakeSettings, key: str, inner: str
) -> None:
    raw = refresh_config()[key]
    bad = raw[:4] + inner + raw[4:]
    error = config_error(make_settings, **refresh_config(**{key: bad}))
    assert error.setting == key
    assert "position 5" in error.problem
    for shown in (str(error), repr(error), error.problem):
        assert "SECRET" not in shown and "abc123" not in shown


def test_a_whitespace_only_secret_counts_as_absent(make_settings: MakeSettings) -> None:
    assert config_error(make_settings, access_token=" \n").setting == "access_token"


@pytest.mark.parametrize("setting", ["api_base_url", "oauth_token_url"])
@pytest.mark.parametrize(
    ("url", "words"),
    [
        # requests (urllib3) connects to 10.0.0.1 here, while urlsplit says 127.0.0.1.
        ("http://10.0.0.1\\@127.0.0.1/rest", "backslash"),
        ("https://api.linkedin.com\\@evil.example/rest", "backslash"),
        ("http://user:pw@127.0.0.1/rest", "user name or password"),
        ("https://evil.example@api.linkedin.com/rest", "user name or password"),
        ("http://127.0.0.1/rest#frag", "fragment"),
        ("http://127.0.0.1/re st", "whitespace or control"),
        ("http://127.0.0.1/rest\n", "whitespace or control"),
        ("http://127.0.0.1\t.evil.example/rest", "whitespace or control"),
        ("http://127.0.0.1%2f@10.0.0.1/rest", "user name or password"),
        ("http://10.0.0.1:80#@127.0.0.1/rest", "fragment"),
        ("http://localhost.:8080@evil.example/rest", "user name or password"),
    ],
)
def test_urls_that_could_send_the_token_elsewhere_are_refused(
    make_settings: MakeSettings, setting: str, url: str, words: str
) -> None:
    error = config_error(make_settings, **{setting: url})
    assert error.setting == setting
    assert words in error.problem


def test_the_loopback_check_uses_the_host_requests_connects_to() -> None:
    from urllib3.util import parse_url

    from target_linkedin_capi.config.settings import _check_url

    for url in ("http://127.0.0.1:9/rest", "http://[::1]:8080/rest", "http://LOCALHOST:1/x"):
        assert _check_url("api_base_url", url) == url.rstrip("/")
        host = parse_url(url).host
        assert host is not None and host.strip("[]").lower() in ("127.0.0.1", "::1", "localhost")


def test_api_base_url_with_a_query_is_refused(make_settings: MakeSettings) -> None:
    # Paths are appended to it: /conversionEvents would land inside the query.
    error = config_error(make_settings, api_base_url="https://api.linkedin.com/rest?x=1")
    assert error.setting == "api_base_url"
    assert "query" in error.problem


def test_refresh_token_path_is_a_setting(make_settings: MakeSettings, tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "linkedin-refresh-token"
    settings = make_settings(**refresh_config(refresh_token_path=str(path)))
    assert settings.refresh_token_path == str(path)
    assert make_settings().refresh_token_path is None


def test_refresh_token_path_without_refresh_credentials_is_a_config_error(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    error = config_error(make_settings, refresh_token_path=str(tmp_path / "rt"))
    assert error.setting == "refresh_token_path"
    assert "client_id" in error.problem


def test_refresh_token_path_is_declared_in_about_and_not_secret() -> None:
    result = subprocess.run(
        [CLI, "--about", "--format=json"], capture_output=True, text=True, timeout=30, check=True
    )
    prop = json.loads(result.stdout)["settings"]["properties"]["refresh_token_path"]
    assert "newer" in prop["description"] or "exists" in prop["description"]
    assert not prop.get("secret")


# -- field_mappings: a path or a list of fallback paths ----------------------------------------


def test_field_mapping_may_be_a_list_of_fallback_paths(make_settings: MakeSettings) -> None:
    settings = make_settings(
        field_mappings={"email": ["email", "customer.email"], "timestamp": ["at"]},
        conversion_rules=[
            {"streams": ["orders"], "conversion_rule_id": "9",
             "field_mappings": {"external_id": ["crm_id", "shop_id"]}},
        ],
    )  # fmt: skip
    by_id = {rule.rule_id: rule for rule in settings.rules}
    assert by_id["456"].field_mappings == {"email": ("email", "customer.email"), "timestamp": "at"}
    assert by_id["9"].field_mappings["external_id"] == ("crm_id", "shop_id")
    assert by_id["9"].field_mappings["email"] == ("email", "customer.email")


@pytest.mark.parametrize("bad", [[], [""], ["email", 3], {"path": "email"}, 7])
def test_bad_field_mapping_names_the_setting(make_settings: MakeSettings, bad: Any) -> None:
    error = config_error(make_settings, field_mappings={"email": bad})
    assert error.setting == "field_mappings.email"


def test_json_schema_takes_a_string_or_a_list_of_strings() -> None:
    import jsonschema

    from target_linkedin_capi.config.settings import CONFIG_SCHEMA

    schema = CONFIG_SCHEMA["properties"]["field_mappings"]
    jsonschema.validate({"email": "email", "timestamp": ["a", "b.c"]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"email": [1]}, schema)
    entry = CONFIG_SCHEMA["properties"]["conversion_rules"]["items"]["properties"]
    jsonschema.validate({"email": ["a", "b"]}, entry["field_mappings"])


# -- one source of truth: the schema ---------------------------------------------------------

SCHEMA_DEFAULTS = {
    # Settings field -> schema setting whose default it takes when the config leaves it unset.
    "batch_size": "batch_size_rows",
    "retry_max_attempts": "retry_max_attempts",
    "retry_max_wait_seconds": "retry_max_wait_seconds",
    "rate_limit_per_minute": "rate_limit_per_minute",
    "connect_timeout": "connect_timeout_seconds",
    "read_timeout": "read_timeout_seconds",
    "state_flush_interval": "state_flush_interval_seconds",
    "max_inflight_batches": "max_inflight_batches",
    "dry_run": "dry_run",
    "api_version": "api_version",
}


@pytest.mark.parametrize(("field_name", "setting"), sorted(SCHEMA_DEFAULTS.items()))
def test_parser_takes_defaults_from_the_schema(
    monkeypatch: pytest.MonkeyPatch,
    make_config: Callable[..., dict[str, Any]],
    field_name: str,
    setting: str,
) -> None:
    from target_linkedin_capi.config import settings as module

    prop = module.CONFIG_SCHEMA["properties"][setting]
    assert module.default_of(setting) == prop["default"]
    changed = {
        bool: True,
        str: "202608",
        int: 3,
        float: 3.5,
    }[type(prop["default"])]
    monkeypatch.setitem(prop, "default", changed)
    parsed = parse_settings(make_config(**{setting: None}))
    assert getattr(parsed, field_name) == changed


def test_api_version_pattern_comes_from_the_schema(
    monkeypatch: pytest.MonkeyPatch, make_settings: MakeSettings
) -> None:
    from target_linkedin_capi.config import settings as module

    prop = module.CONFIG_SCHEMA["properties"]["api_version"]
    monkeypatch.setitem(prop, "pattern", r"^\d{6}$")
    assert config_error(make_settings, api_version="202609.01").setting == "api_version"


ENUMERATED = {
    "conversion_type": "CONVERSION_TYPES",
    "attribution_type": "ATTRIBUTION_TYPES",
    "post_click_attribution_window_size": "POST_CLICK_WINDOWS",
    "view_through_attribution_window_size": "VIEW_THROUGH_WINDOWS",
}


def _about_properties() -> dict[str, Any]:
    result = subprocess.run(
        [CLI, "--about", "--format=json"], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(result.stdout)["settings"]["properties"]


def test_schema_declares_allowed_values_without_a_validating_enum() -> None:
    """--about documents the values; the SDK must not check them (case, its own message)."""
    from target_linkedin_capi.config.settings import ALLOWED_VALUES
    from target_linkedin_capi.linkedin import vocabulary

    properties = _about_properties()
    entry = properties["conversion_rules"]["items"]["properties"]
    for setting, constant in ENUMERATED.items():
        for prop in (properties[setting], entry[setting]):
            assert prop[ALLOWED_VALUES] == list(getattr(vocabulary, constant)), setting
            assert "enum" not in prop, setting


@pytest.mark.parametrize("setting", sorted(ENUMERATED))
def test_parser_takes_allowed_values_from_the_schema(
    monkeypatch: pytest.MonkeyPatch, make_settings: MakeSettings, setting: str
) -> None:
    from target_linkedin_capi.config import settings as module

    prop = module.CONFIG_SCHEMA["properties"][setting]
    allowed = prop[module.ALLOWED_VALUES]
    # The rule's default value stays valid; the last value other than it is dropped.
    dropped = next(v for v in reversed(allowed) if v not in (30, 7, "LAST_TOUCH_BY_CAMPAIGN"))
    monkeypatch.setitem(prop, module.ALLOWED_VALUES, [v for v in allowed if v != dropped])
    overrides: dict[str, Any] = {"conversion_type": "PURCHASE", setting: dropped}
    error = config_error(make_settings, **overrides)
    assert error.setting == setting
    assert str(dropped) in error.problem


def test_every_enumerated_setting_is_checked_and_lists_the_valid_values(
    make_settings: MakeSettings,
) -> None:
    """A schema's allowed values are no `enum`, so the parser must check each one itself."""
    from target_linkedin_capi.config.settings import ALLOWED_VALUES, CONFIG_SCHEMA

    enumerated = {
        name: prop[ALLOWED_VALUES]
        for name, prop in CONFIG_SCHEMA["properties"].items()
        if ALLOWED_VALUES in prop
    }
    assert set(ENUMERATED) <= set(enumerated)
    for setting, allowed in enumerated.items():
        wrong = 2 if isinstance(allowed[0], int) else "NOT_A_VALUE"
        entry = {"streams": ["s"], "conversion_rule_id": "1", setting: wrong}
        for where, overrides in (
            (setting, {setting: wrong}),
            (f"conversion_rules[0].{setting}", {"conversion_rules": [entry]}),
        ):
            error = config_error(make_settings, **overrides)
            assert str(error) == (
                f"{where}: '{wrong}' is not allowed; use one of {', '.join(map(str, allowed))}"
            )


def test_enumerated_values_any_case_through_the_sdk(
    make_config: Callable[..., dict[str, Any]],
) -> None:
    """The SDK validates the config before the parser runs: lower case must get through it."""
    from target_linkedin_capi.target import TargetLinkedInCapi

    config = make_config(
        conversion_rule_id=None,
        conversion_rule_name="Signups",
        conversion_type="sign_up",
        attribution_type="Last_Touch_By_Conversion",
        conversion_rules=[
            {"streams": ["b"], "conversion_rule_name": "B", "conversion_type": "lead"}
        ],
    )
    target = TargetLinkedInCapi(config=config, validate_config=True)
    types = {rule.name: rule.conversion_type for rule in target.run.settings.rules}
    assert types == {"Signups": "SIGN_UP", "B": "LEAD"}


@pytest.mark.parametrize(
    ("overrides", "setting", "wrong"),
    [
        ({"conversion_type": "purchse"}, "conversion_type", "purchse"),
        ({"attribution_type": "first_touch"}, "attribution_type", "first_touch"),
        (
            {"view_through_attribution_window_size": 14},
            "view_through_attribution_window_size",
            "14",
        ),
        (
            {
                "conversion_rules": [
                    {"streams": ["s"], "conversion_rule_name": "S", "conversion_type": "purchse"}
                ]
            },
            "conversion_rules[0].conversion_type",
            "purchse",
        ),
    ],
)
def test_cli_wrong_enumerated_value_is_one_line_listing_the_valid_ones(
    tmp_path: Path,
    make_config: Callable[..., dict[str, Any]],
    overrides: dict[str, Any],
    setting: str,
    wrong: str,
) -> None:
    from target_linkedin_capi.config.settings import allowed_values_of

    listed = ", ".join(map(str, allowed_values_of(setting.rpartition(".")[2])))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                **make_config(conversion_rule_id=None),
                "conversion_rule_name": "R",
                "conversion_type": "PURCHASE",
                **overrides,
            }
        )
    )
    result = subprocess.run(
        [CLI, "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = result.stderr + result.stdout
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if "ERROR" in line]
    # The problem in one line, then the SDK's closing "Config validation failed".
    assert len(errors) == 2, output
    assert errors[0].endswith(f"{setting}: '{wrong}' is not allowed; use one of {listed}"), output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("access_token", {"token": "SUPERSECRETTOKENVALUE"}),
        ("access_token", 123456789012345),
        ("client_secret", ["SUPERSECRETCLIENTVALUE"]),
        ("ledger_url", ["postgresql://user:SUPERSECRETPASSWORD@db.internal/ledger"]),
    ],
)
def test_a_secret_in_the_wrong_shape_is_never_quoted(
    tmp_path: Path, make_config: Callable[..., dict[str, Any]], setting: str, value: Any
) -> None:
    # The SDK's schema errors quote the offending value, e.g. "{'token': '...'} is not of
    # type 'string'": a token or password pasted in the wrong shape would reach the log.
    config = tmp_path / "config.json"
    config.write_text(json.dumps(make_config(**{setting: value})))
    result = subprocess.run(
        [CLI, "--config", str(config)], input="", capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert f"{setting}: must be string or null" in output
    assert "SUPERSECRET" not in output and "123456789012345" not in output


def test_a_ledger_url_with_an_unencoded_at_in_its_password_is_refused_unseen(
    make_settings: MakeSettings,
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(ledger_url="postgresql://postgres:p@ssW0rdSECRET@127.0.0.1:5432/test")
    assert caught.value.setting == "ledger_url" and "%40" in str(caught.value)
    assert "ssW0rd" not in str(caught.value)
    settings = make_settings(ledger_url="postgresql://postgres:p%40ssW0rdSECRET@127.0.0.1/test")
    assert settings.ledger_url is not None
