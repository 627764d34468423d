"""`--check`: is this configuration ready to be scheduled? One line per check.

Reads no input, sends no event and changes nothing at LinkedIn: every call is a read (the
rules are resolved by looking, not through the reconciler), and the client is put over a
RecordingTransport so that even a write asked for by mistake would only be recorded. The
exit code is 1 when any check FAILs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from target_linkedin_capi.commands import register
from target_linkedin_capi.commands.output import FAIL, PASS, SKIP, WARN, CheckLine, print_checks
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import advice, vocabulary
from target_linkedin_capi.linkedin.client import CallFailed, LinkedInClient
from target_linkedin_capi.linkedin.errors import (
    ConnectionFailedError,
    TransientError,
    VersionSunsetError,
)
from target_linkedin_capi.linkedin.models import AccountUser, Campaign, ConversionRule
from target_linkedin_capi.linkedin.transport import RecordingTransport
from target_linkedin_capi.plan.reconcile import RECONCILED_FIELDS
from target_linkedin_capi.plan.rules import RuleSpec
from target_linkedin_capi.report.redaction import mask_secrets

if TYPE_CHECKING:
    from target_linkedin_capi.config.settings import Settings
    from target_linkedin_capi.run import Run

TOKEN_WARNING_DAYS = 14
WRITER_ROLES = frozenset(
    {"ACCOUNT_BILLING_ADMIN", "ACCOUNT_MANAGER", "CAMPAIGN_MANAGER", "CREATIVE_MANAGER"}
)
CLOSED_ACCOUNT_STATUSES = frozenset({"CANCELED", "PENDING_DELETION", "REMOVED"})
_NOT_CHECKED = "not checked: {why}"
_CREDENTIALS_REFUSED = "the token was not accepted"
_UNREACHABLE = "LinkedIn could not be reached"
_VERSION_REFUSED = "LinkedIn refused api_version"


@dataclass
class _Writes:
    """Where the check's transport puts writes instead of sending them (none are made)."""

    recorded: list[Any] = field(default_factory=list)

    def write(self, line: Any) -> None:
        self.recorded.append(line)


class Checker:
    """Runs the checks in order; each adds its lines to `lines`."""

    def __init__(self, run: Run, today: date | None = None) -> None:
        self.settings: Settings = run.settings
        self.secrets = run.secrets
        self.writes = _Writes()
        self.client = LinkedInClient(RecordingTransport(run.client.http, self.writes))
        self.today = today or datetime.now(timezone.utc).date()
        self.lines: list[CheckLine] = []
        self.roles: dict[str, str | None] | None = None  # None: the token check failed
        # Why the token check failed, for the checks it makes impossible to run.
        self.token_failure = _CREDENTIALS_REFUSED
        self.version_refused: CallFailed | None = None
        self.good_accounts: set[str] = set()
        self._rules: dict[str, list[ConversionRule]] = {}
        self._campaigns: dict[str, dict[str, Campaign]] = {}

    def add(self, status: str, check: str, message: str, setting: str | None = None) -> None:
        # The texts are the target's own and already masked; this is the last line of
        # defence for standard output, which the logging SecretFilter does not see.
        message = mask_secrets(message, self.secrets())
        self.lines.append(CheckLine(status, check, message, setting))

    def run(self) -> list[CheckLine]:
        self.check_refresh()
        self.check_token()
        self.check_introspection()
        self.check_version()
        for account, setting in self.accounts():
            self.check_account(account, setting)
        for spec, prefix in self.specs():
            self.check_rule(spec, prefix)
            self.check_campaigns(spec, prefix)
        self.check_ledger()
        # Every file the target writes is named by a `*_path` setting (rejected records,
        # dry-run output, run report, the rotated refresh token).
        for setting in (f.name for f in fields(self.settings) if f.name.endswith("_path")):
            self.check_file(setting)
        return self.lines

    # -- credentials ----------------------------------------------------------------------

    def check_refresh(self) -> None:
        if not self.settings.can_refresh:
            return
        tokens = self.client.tokens
        try:
            if self.settings.access_token:
                tokens.refresh(tokens.token())
            else:
                tokens.token()  # without an access token, the first one comes by refresh
        except FatalError as exc:
            self.add(FAIL, "token refresh", str(exc), "refresh_token")
            return
        message = "LinkedIn issued a new access token for the refresh token"
        self.add(PASS, "token refresh", message, "refresh_token")

    def check_token(self) -> None:
        setting = "access_token" if self.settings.access_token else "refresh_token"
        try:
            users: list[AccountUser] = list(self.client.find_ad_account_users())
        except CallFailed as exc:
            if isinstance(exc.error, VersionSunsetError):
                self.version_refused = exc
                self.token_failure = _VERSION_REFUSED
                why = f"{_VERSION_REFUSED} before looking at the token"
                self.add(SKIP, "access token", _NOT_CHECKED.format(why=why), setting)
                return
            if isinstance(exc.error, ConnectionFailedError):
                # Not the token's fault: the URL (or the network) is what to fix.
                self.token_failure = _UNREACHABLE
                self.add(
                    FAIL,
                    "LinkedIn reachable",
                    f"no answer from {self.settings.api_base_url} "
                    f"({exc.error.describe()}); check api_base_url and the network",
                    "api_base_url",
                )
                return
            if isinstance(exc.error, TransientError):
                self.token_failure = _UNREACHABLE
            self.add(FAIL, "access token", str(exc), setting)
            return
        except FatalError as exc:  # a refresh during the call failed
            self.add(FAIL, "access token", str(exc), setting)
            return
        self.roles = {user.account_id: user.role for user in users}
        self.add(
            PASS,
            "access token",
            f"LinkedIn accepts it; its member has a role on {len(self.roles)} ad account(s)",
            setting,
        )

    def check_introspection(self) -> None:
        if self.roles is None:
            return  # the token failed already; introspection would only repeat it
        if self.client.tokens.introspection_form() is None:
            self.add(
                SKIP,
                "token scopes and expiry",
                "not checked: token introspection needs client_id and client_secret",
                "client_id",
            )
            return
        try:
            info = self.client.introspect_token()
        except FatalError as exc:
            answer = exc.error.describe() if isinstance(exc, CallFailed) else str(exc)
            message = advice.INTROSPECTION_UNKNOWN.format(answer=answer)
            self.add(WARN, "token scopes and expiry", message, "access_token")
            return
        if not info.active:
            self.add(
                FAIL, "token scopes and expiry", advice.token_inactive(info.status), "access_token"
            )
            return
        scopes = sorted(info.scopes)
        # rw_ads includes the reading r_ads grants.
        held = set(scopes) | ({"r_ads"} if "rw_ads" in info.scopes else set())
        missing = [scope for scope in advice.SCOPES if scope not in held]
        if missing:
            self.add(
                FAIL,
                "token scopes and expiry",
                advice.missing_scopes(missing, scopes),
                "access_token",
            )
            return
        expiry = ""
        if info.expires_at is not None:
            expires = datetime.fromtimestamp(info.expires_at, timezone.utc)
            days = (expires.date() - self.today).days
            when = expires.strftime("%Y-%m-%d %H:%M UTC")
            if days < TOKEN_WARNING_DAYS:
                self.add(
                    WARN,
                    "token scopes and expiry",
                    advice.token_expires_soon(days, when),
                    "access_token",
                )
                return
            expiry = f"; it expires on {when} (in {days} days)"
        self.add(
            PASS, "token scopes and expiry", f"scopes {', '.join(scopes)}{expiry}", "access_token"
        )

    # -- api_version ----------------------------------------------------------------------

    def check_version(self) -> None:
        version = self.settings.api_version
        if self.version_refused is not None:
            self.add(FAIL, "api_version", str(self.version_refused), "api_version")
            return
        sunset, documented = vocabulary.version_sunset(version)
        days = (sunset - self.today).days
        if days <= vocabulary.SUNSET_WARNING_DAYS:
            newest = max(vocabulary.VERSION_SUNSETS)
            message = advice.version_sunset_soon(
                version, sunset.isoformat(), days, documented, newest
            )
            self.add(WARN, "api_version", message, "api_version")
            return
        source = "documented" if documented else "estimated"
        if self.roles is None:
            why = f"{self.token_failure}, so LinkedIn was not asked"
            self.add(
                SKIP,
                "api_version",
                f"{_NOT_CHECKED.format(why=why)} (sunset {sunset}, {source})",
                "api_version",
            )
            return
        self.add(
            PASS, "api_version", f"{version} is served; sunset {sunset} ({source})", "api_version"
        )

    # -- the ad account, rules and campaigns ----------------------------------------------

    def specs(self) -> Iterator[tuple[RuleSpec, str]]:
        """Each configured rule with the prefix of its settings (`conversion_rules[0].`)."""
        entry = 0
        for spec in self.settings.rules:
            if spec.streams is None:
                yield spec, ""
            else:
                yield spec, f"conversion_rules[{entry}]."
                entry += 1

    def accounts(self) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        for spec, prefix in self.specs():
            if spec.account_id not in seen:
                seen.add(spec.account_id)
                yield spec.account_id, f"{prefix}ad_account_id"

    def check_account(self, account_id: str, setting: str) -> None:
        check = f"ad account {account_id}"
        if self.roles is None:
            self.add(SKIP, check, _NOT_CHECKED.format(why=self.token_failure), setting)
            return
        try:
            account = self.client.get_ad_account(account_id)
        except FatalError as exc:
            self.add(FAIL, check, str(exc), setting)
            return
        role = self.roles.get(account_id)
        if role is None:
            self.add(FAIL, check, advice.no_role(account_id), setting)
            return
        if role not in WRITER_ROLES:
            self.add(FAIL, check, advice.viewer_role(account_id), setting)
            return
        self.good_accounts.add(account_id)
        name = f" '{account.name}'" if account and account.name else ""
        status = account.status if account else None
        facts = ", ".join(
            value for value in (status, account.currency if account else None) if value
        )
        message = f"reachable{name}{f' ({facts})' if facts else ''}; the token's role {role} may send conversions"
        if status in CLOSED_ACCOUNT_STATUSES:
            self.add(
                WARN,
                check,
                f"{message}, but the account is {status}: LinkedIn may refuse its conversions",
                setting,
            )
            return
        self.add(PASS, check, message, setting)

    def rules_of(self, account_id: str) -> list[ConversionRule]:
        if account_id not in self._rules:
            self._rules[account_id] = list(self.client.find_rules(account_id))
        return self._rules[account_id]

    def campaigns_of(self, account_id: str) -> dict[str, Campaign]:
        if account_id not in self._campaigns:
            found = self.client.find_campaigns(account_id)
            self._campaigns[account_id] = {campaign.id: campaign for campaign in found}
        return self._campaigns[account_id]

    def check_rule(self, spec: RuleSpec, prefix: str) -> None:
        setting = prefix + ("conversion_rule_id" if spec.rule_id else "conversion_rule_name")
        check = spec.label
        if spec.account_id not in self.good_accounts:
            why = f"ad account {spec.account_id} failed its check"
            self.add(SKIP, check, _NOT_CHECKED.format(why=why), setting)
            return
        try:
            if spec.rule_id:
                rule = self.client.get_rule(spec.account_id, spec.rule_id)
                problem = _rule_problem(spec, rule)
                if problem:
                    self.add(FAIL, check, problem, setting)
                    return
                self.add(PASS, check, _resolved(rule, spec), setting)
                return
            found = self.rules_of(spec.account_id)
        except FatalError as exc:
            self.add(FAIL, check, str(exc), setting)
            return
        named = [rule for rule in found if rule.name == spec.name]
        usable = next((rule for rule in named if rule.takes_server_events), None)
        if usable is not None:
            self.add(PASS, check, _resolved(usable, spec), setting)
            return
        creates = (
            f"no enabled Conversions API rule has this name in ad account {spec.account_id}, "
            f"so the first run creates it ({spec.conversion_type}, {spec.attribution_type}, "
            f"post-click {spec.post_click_window} d, view-through {spec.view_through_window} d)"
        )
        if named:
            ignored = ", ".join(rule.id for rule in named)
            self.add(
                WARN,
                check,
                f"{creates}; rule(s) {ignored} of that name are disabled or not made for the "
                "Conversions API and are left alone (enable one and set conversion_rule_id "
                "to use it instead)",
                setting,
            )
            return
        self.add(PASS, check, creates, setting)

    def check_campaigns(self, spec: RuleSpec, prefix: str) -> None:
        if not spec.campaign_ids:
            return
        setting = f"{prefix}campaign_ids"
        check = f"campaigns of {spec.label}"
        if spec.account_id not in self.good_accounts:
            why = f"ad account {spec.account_id} failed its check"
            self.add(SKIP, check, _NOT_CHECKED.format(why=why), setting)
            return
        try:
            known = self.campaigns_of(spec.account_id)
        except FatalError as exc:
            self.add(FAIL, check, str(exc), setting)
            return
        missing = [campaign for campaign in spec.campaign_ids if campaign not in known]
        for campaign in missing:
            self.add(
                FAIL, check, advice.campaign_not_in_account(campaign, spec.account_id), setting
            )
        if not missing:
            listed = ", ".join(spec.campaign_ids)
            self.add(PASS, check, f"{listed} exist in ad account {spec.account_id}", setting)

    # -- local resources ------------------------------------------------------------------

    def check_ledger(self) -> None:
        self.lines.append(ledger_line(self.settings))

    def check_file(self, setting: str) -> None:
        path = getattr(self.settings, setting, None)
        if not path:
            return
        problem = file_problem(Path(path).expanduser())
        if problem:
            self.add(FAIL, f"{setting} folder", advice.folder_unwritable(path, problem), setting)
        else:
            self.add(
                PASS, f"{setting} folder", f"{Path(path).expanduser().parent} is writable", setting
            )


def _rule_problem(spec: RuleSpec, rule: ConversionRule) -> str | None:
    """Why events could not go to this rule (the reconciler's checks, without its writes)."""
    assert spec.rule_id is not None
    if rule.account_id != spec.account_id:
        return advice.rule_of_other_account(spec.rule_id, rule.account, spec.account_id)
    if rule.method != vocabulary.CONVERSIONS_API_METHOD:
        return advice.rule_not_conversions_api(spec.rule_id, spec.account_id, rule.method)
    if rule.enabled is False:
        return advice.rule_disabled(spec.rule_id, spec.account_id)
    return None


def _resolved(rule: ConversionRule, spec: RuleSpec) -> str:
    text = (
        f"rule {rule.id} '{rule.name or ''}' exists in ad account {spec.account_id}, enabled, "
        "made for the Conversions API"
    )
    changes = [
        f"{setting} {getattr(rule, attribute)} -> {getattr(spec, wanted)}"
        for setting, attribute, wanted in RECONCILED_FIELDS
        if setting in spec.explicit and getattr(rule, attribute) != getattr(spec, wanted)
    ]
    if changes:
        text += "; the first run changes " + ", ".join(changes)
    return text


def ledger_line(settings: Settings) -> CheckLine:
    """The ledger's check: it can be read, or (a SQLite file not made yet) be created."""
    if not settings.ledger_enabled:
        return CheckLine(SKIP, "ledger", "not checked: ledger_enabled is false", "ledger_enabled")
    from target_linkedin_capi.delivery.ledger import LedgerError, open_ledger

    try:
        with open_ledger(settings.ledger_url, settings.ledger_schema, read_only=True) as ledger:
            shown = ledger.url
    except LedgerError as exc:
        return CheckLine(FAIL, "ledger", str(exc), "ledger_url")
    path = _sqlite_path(settings.ledger_url)
    if path is None or path.exists():
        return CheckLine(PASS, "ledger", f"{shown} can be read", "ledger_url")
    # Read-only opening succeeds without the file; what matters then is that a run can
    # create it (and its missing folders).
    problem = file_problem(path)
    if problem:
        return CheckLine(FAIL, "ledger", advice.folder_unwritable(str(path), problem), "ledger_url")
    created = f"{shown} does not exist yet; the first run creates it in {path.parent}"
    return CheckLine(PASS, "ledger", created, "ledger_url")


def _sqlite_path(url: str | None) -> Path | None:
    """The absolute file of a SQLite ledger (None: a PostgreSQL one)."""
    from target_linkedin_capi.delivery.ledger import DEFAULT_SQLITE_PATH

    if not url:
        return Path(os.path.abspath(DEFAULT_SQLITE_PATH))
    from sqlalchemy.engine import make_url

    parsed = make_url(url.strip())  # open_ledger has accepted it
    if parsed.drivername.lower() != "sqlite" or not parsed.database:
        return None
    return Path(os.path.abspath(Path(parsed.database).expanduser()))


def file_problem(path: Path) -> str | None:
    """Why the target could not write the file `path` (None: it can)."""
    if path.is_dir():
        return "it is a folder; give the path of a file inside it"
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file exists and is not writable"
    try:
        # A nameless temporary file where it matters (the folder, or the nearest one that
        # exists when the target would create the rest): nothing is left behind.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"{existing} is not writable ({exc.strerror or type(exc).__name__})"
    return None


@register(
    click.Option(
        ["--check"],
        is_flag=True,
        help="Check the configuration against LinkedIn and exit (reads nothing from stdin, "
        "sends no event, changes nothing): credentials, api_version, ad account and role, "
        "rules, campaigns, ledger, output folders. Exit 1 when a check fails.",
    )
)
def check(run: Run, value: bool, output_format: str | None) -> int:
    lines = Checker(run).run()
    print_checks(lines, output_format)
    return 1 if any(line.status == FAIL for line in lines) else 0
