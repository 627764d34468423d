"""Conversion rules as code: verify, find or create, reconcile, and link campaigns.

Runs once per configured rule before the first event is sent. Declarative and idempotent:
a second run finds what the first created, changes only what drifted, and links only
campaigns not yet linked. Links are only ever added; removing one is a deliberate act the
target never does on its own.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import restli
from target_linkedin_capi.linkedin import vocabulary as linkedin
from target_linkedin_capi.linkedin.client import ApiError, LinkedInClient, TransientError
from target_linkedin_capi.plan.rules import RuleSpec
from target_linkedin_capi.report.run_report import JsonLines

logger = logging.getLogger(__name__)

FINDER_PAGE_SIZE = 100
# LinkedIn field <- RuleSpec attribute, for the settings the target reconciles.
RECONCILED_FIELDS = (
    ("conversion_rule_name", "name", "name"),
    ("conversion_type", "type", "conversion_type"),
    ("attribution_type", "attributionType", "attribution_type"),
    ("post_click_attribution_window_size", "postClickAttributionWindowSize", "post_click_window"),
    (
        "view_through_attribution_window_size",
        "viewThroughAttributionWindowSize",
        "view_through_window",
    ),
)
# Placeholder used by dry runs for a rule that would be created.
DRY_RUN_NEW_RULE_ID = "0"


@dataclass
class ResolvedRule:
    """A rule as LinkedIn has it, after this run made it match the config."""

    spec: RuleSpec
    rule_id: str
    urn: str
    actions: list[str] = field(default_factory=list)  # what was (or would be) done
    linked_campaigns: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        """How reports name the rule: its id and, when configured, its name."""
        number = "(new)" if self.rule_id == DRY_RUN_NEW_RULE_ID else self.rule_id
        return f"rule {number}" + (f" '{self.spec.name}'" if self.spec.name else "")


class RuleManager:
    """Ensures every configured rule once per run; safe to call from several threads."""

    def __init__(
        self, client: LinkedInClient, *, dry_run: bool, dry_run_output: JsonLines | None = None
    ) -> None:
        self.client = client
        self.dry_run = dry_run
        self.dry_run_output = dry_run_output
        self._lock = threading.Lock()
        self._resolved: dict[RuleSpec, ResolvedRule] = {}
        self._by_identity: dict[tuple[str, str], ResolvedRule] = {}

    def ensure(self, spec: RuleSpec) -> ResolvedRule:
        with self._lock:
            if spec not in self._resolved:
                self._resolved[spec] = self._ensure(spec)
            return self._resolved[spec]

    def ensure_all(self, specs: tuple[RuleSpec, ...]) -> list[ResolvedRule]:
        return [self.ensure(spec) for spec in specs]

    # -- one rule ---------------------------------------------------------------------------

    def _ensure(self, spec: RuleSpec) -> ResolvedRule:
        identity = (spec.account_id, spec.rule_id or f"name:{spec.name}")
        known = self._by_identity.get(identity)
        if known is not None:
            # Two entries naming the same rule: one lookup, links merged.
            self._link_campaigns(known, spec)
            return known

        if spec.rule_id:
            rule = self._get_rule(spec)
            self._verify(spec, rule)
        else:
            rule = self._find_by_name(spec)
        if rule is None:
            resolved = self._create(spec)
        else:
            resolved = ResolvedRule(spec, str(rule["id"]), linkedin.rule_urn(rule["id"]))
            self._reconcile(resolved, rule)
            resolved.linked_campaigns |= self._linked_campaigns_of(rule)
        self._by_identity[identity] = resolved
        self._link_campaigns(resolved, spec)
        return resolved

    def _account_query(self, spec: RuleSpec) -> str:
        return restli.query({"account": linkedin.account_urn(spec.account_id)})

    def _where(self, spec: RuleSpec) -> str:
        return f"in ad account {spec.account_id}"

    def _get_rule(self, spec: RuleSpec) -> dict[str, Any]:
        try:
            return self._call_json(
                spec,
                "GET",
                f"/conversions/{spec.rule_id}",
                self._account_query(spec),
                what=f"lookup of conversion rule {spec.rule_id}",
            )
        except ApiError as exc:
            if exc.answer.status == 404:
                raise FatalError(
                    f"Conversion rule {spec.rule_id} does not exist {self._where(spec)} "
                    f"(LinkedIn: {exc.answer.describe()}). Check conversion_rule_id and "
                    "ad_account_id, or remove conversion_rule_id and set conversion_rule_name "
                    "and conversion_type to have the target create the rule."
                ) from None
            raise self._fatal(spec, exc, f"look up conversion rule {spec.rule_id}") from None

    def _verify(self, spec: RuleSpec, rule: dict[str, Any]) -> None:
        rule_account = linkedin.account_id(rule.get("account", ""))
        if rule_account != spec.account_id:
            raise FatalError(
                f"Conversion rule {spec.rule_id} belongs to ad account "
                f"{rule.get('account')}, not to ad account {spec.account_id} (ad_account_id). "
                "Events can only be sent to a rule of the configured account."
            )
        if rule.get("conversionMethod") != linkedin.CONVERSIONS_API_METHOD:
            raise FatalError(
                f"Conversion rule {spec.rule_id} {self._where(spec)} was made for "
                f"{rule.get('conversionMethod') or 'another method'} (e.g. the Insight Tag), "
                "not the Conversions API; LinkedIn refuses server events for it. Create a "
                "Conversions-API rule (or set conversion_rule_name and conversion_type instead "
                "of conversion_rule_id and the target creates one)."
            )
        if rule.get("enabled") is False:
            raise FatalError(
                f"Conversion rule {spec.rule_id} {self._where(spec)} is disabled; LinkedIn "
                "refuses events for it. Enable it in Campaign Manager or configure another rule."
            )

    def _find_by_name(self, spec: RuleSpec) -> dict[str, Any] | None:
        start = 0
        while True:
            page = self._call_json(
                spec,
                "GET",
                "/conversions",
                "q=account&"
                + restli.query(
                    {
                        "account": linkedin.account_urn(spec.account_id),
                        "start": start,
                        "count": FINDER_PAGE_SIZE,
                    }
                ),
                what=f"search for conversion rule '{spec.name}'",
            )
            elements = page.get("elements") or []
            for rule in elements:
                if rule.get("name") != spec.name:
                    continue
                if (
                    rule.get("conversionMethod") == linkedin.CONVERSIONS_API_METHOD
                    and rule.get("enabled") is not False
                ):
                    return rule
                logger.warning(
                    "Ignoring conversion rule %s named '%s' %s: it is %s, so it cannot "
                    "receive Conversions API events",
                    rule.get("id"),
                    spec.name,
                    self._where(spec),
                    "disabled"
                    if rule.get("enabled") is False
                    else f"a {rule.get('conversionMethod')} rule",
                )
            total = (page.get("paging") or {}).get("total", -1)
            start += len(elements)
            if not elements or (isinstance(total, int) and 0 <= total <= start):
                return None

    def _create(self, spec: RuleSpec) -> ResolvedRule:
        body = {
            "name": spec.name,
            "account": linkedin.account_urn(spec.account_id),
            "conversionMethod": linkedin.CONVERSIONS_API_METHOD,
            "type": spec.conversion_type,
            "postClickAttributionWindowSize": spec.post_click_window,
            "viewThroughAttributionWindowSize": spec.view_through_window,
            "attributionType": spec.attribution_type,
        }
        if self.dry_run:
            action = (
                f"would create rule '{spec.name}' ({spec.conversion_type}, "
                f"{spec.attribution_type}, post-click {spec.post_click_window} d, view-through "
                f"{spec.view_through_window} d) {self._where(spec)}"
            )
            logger.info("Dry run: %s", action)
            self._would_send("POST", "/conversions", None, body)
            return ResolvedRule(
                spec, DRY_RUN_NEW_RULE_ID, linkedin.rule_urn(DRY_RUN_NEW_RULE_ID), [action]
            )
        # Creating is not idempotent: after a transient failure, look again before retrying.
        for attempt in range(1, 4):
            try:
                response = self.client.call(
                    "POST",
                    "/conversions",
                    body=json.dumps(body).encode(),
                    what=f"creation of conversion rule '{spec.name}'",
                    attempts=1,
                )
                break
            except ApiError as exc:
                raise self._fatal(spec, exc, f"create conversion rule '{spec.name}'") from None
            except (TransientError, requests.ConnectionError, requests.Timeout) as exc:
                logger.warning(
                    "Creating conversion rule '%s' failed (%s); checking whether LinkedIn "
                    "created it anyway before trying again",
                    spec.name,
                    type(exc).__name__,
                )
                found = self._find_by_name(spec)
                if found is not None:
                    return ResolvedRule(spec, str(found["id"]), linkedin.rule_urn(found["id"]))
                if attempt == 3:
                    raise FatalError(
                        f"Could not create conversion rule '{spec.name}' {self._where(spec)}: "
                        f"LinkedIn kept failing ({type(exc).__name__}). Run again later."
                    ) from None
                time.sleep(2**attempt)
        created = _json_or_empty(response)
        rule_id = created.get("id") or response.headers.get("x-restli-id")
        if not rule_id:
            raise FatalError(
                f"LinkedIn created conversion rule '{spec.name}' but returned no id; the next "
                "run finds it by name."
            )
        rule_id = str(rule_id)
        logger.info(
            "Created conversion rule %s '%s' %s. Pin it with conversion_rule_id: %s to skip "
            "the name search on later runs.",
            rule_id,
            spec.name,
            self._where(spec),
            rule_id,
        )
        return ResolvedRule(
            spec, rule_id, linkedin.rule_urn(rule_id), [f"created rule {rule_id} '{spec.name}'"]
        )

    def _reconcile(self, resolved: ResolvedRule, rule: dict[str, Any]) -> None:
        spec = resolved.spec
        changes: dict[str, Any] = {}
        for setting, linkedin_field, attribute in RECONCILED_FIELDS:
            if setting not in spec.explicit and not (
                setting == "conversion_rule_name" and spec.rule_id and spec.name
            ):
                continue  # defaults never cause an update
            wanted = getattr(spec, attribute)
            if wanted is not None and rule.get(linkedin_field) != wanted:
                changes[linkedin_field] = wanted
        if not changes:
            logger.info(
                "Conversion rule %s '%s' matches the config", resolved.rule_id, rule.get("name")
            )
            return
        described = ", ".join(
            f"{name} {rule.get(name)} -> {value}" for name, value in changes.items()
        )
        if self.dry_run:
            action = f"would change rule {resolved.rule_id}: {described}"
            logger.info("Dry run: %s", action)
            resolved.actions.append(action)
            self._would_send(
                "POST",
                f"/conversions/{resolved.rule_id}",
                self._account_query(spec),
                {"patch": {"$set": changes}},
                "PARTIAL_UPDATE",
            )
            return
        try:
            self.client.call(
                "POST",
                f"/conversions/{resolved.rule_id}",
                query=self._account_query(spec),
                body=json.dumps({"patch": {"$set": changes}}).encode(),
                restli_method="PARTIAL_UPDATE",
                what=f"update of conversion rule {resolved.rule_id}",
            )
        except ApiError as exc:
            raise self._fatal(spec, exc, f"update conversion rule {resolved.rule_id}") from None
        logger.info("Updated conversion rule %s: %s", resolved.rule_id, described)
        resolved.actions.append(f"updated rule {resolved.rule_id}: {described}")

    @staticmethod
    def _linked_campaigns_of(rule: dict[str, Any] | None) -> set[str]:
        if not rule:
            return set()
        linked: set[str] = set()
        for key in ("campaigns", "associatedCampaigns"):
            for item in rule.get(key) or []:
                value = item.get("campaign") if isinstance(item, dict) else item
                campaign = linkedin.campaign_id(value) if value else None
                if campaign:
                    linked.add(campaign)
        return linked

    def _link_campaigns(self, resolved: ResolvedRule, spec: RuleSpec) -> None:
        todo = [c for c in spec.campaign_ids if c not in resolved.linked_campaigns]
        if not todo:
            return
        if self.dry_run:
            rule = (
                "the new rule"
                if resolved.rule_id == DRY_RUN_NEW_RULE_ID
                else f"rule {resolved.rule_id}"
            )
            action = f"would link campaigns {', '.join(todo)} to {rule}"
            logger.info("Dry run: %s", action)
            resolved.actions.append(action)
            resolved.linked_campaigns.update(todo)
            for campaign in todo:
                campaign_urn = linkedin.campaign_urn(campaign)
                key = restli.encode_key({"campaign": campaign_urn, "conversion": resolved.urn})
                self._would_send(
                    "PUT",
                    f"/campaignConversions/{key}",
                    None,
                    {"campaign": campaign_urn, "conversion": resolved.urn},
                )
            return
        for campaign in todo:
            campaign_urn = linkedin.campaign_urn(campaign)
            key = restli.encode_key({"campaign": campaign_urn, "conversion": resolved.urn})
            try:
                self.client.call(
                    "PUT",
                    f"/campaignConversions/{key}",
                    body=json.dumps(
                        {"campaign": campaign_urn, "conversion": resolved.urn}
                    ).encode(),
                    what=f"link of campaign {campaign} to conversion rule {resolved.rule_id}",
                )
            except (ApiError, FatalError) as exc:
                answer = exc.answer.describe() if isinstance(exc, ApiError) else str(exc)
                raise FatalError(
                    f"Could not link campaign {campaign} to conversion rule {resolved.rule_id} "
                    f"{self._where(spec)} ({answer}). Check that the campaign exists and "
                    "belongs to that ad account (campaign_ids). The rule itself is kept; the "
                    "next run finds it and only retries the links."
                ) from None
            logger.info("Linked campaign %s to conversion rule %s", campaign, resolved.rule_id)
            resolved.linked_campaigns.add(campaign)
        resolved.actions.append(f"linked campaigns {', '.join(todo)} to rule {resolved.rule_id}")

    # -- helpers ----------------------------------------------------------------------------

    def _would_send(
        self,
        method: str,
        path: str,
        query: str | None,
        body: dict[str, Any],
        restli_method: str | None = None,
    ) -> None:
        """A dry run's record of a write it did not make (no Authorization header)."""
        if self.dry_run_output is not None:
            self.dry_run_output.write(
                {
                    "method": method,
                    "url": self.client.url(path, query),
                    "headers": self.client.headers(restli_method),
                    "body": body,
                }
            )

    def _call_json(
        self, spec: RuleSpec, method: str, path: str, query: str, *, what: str
    ) -> dict[str, Any]:
        try:
            response = self.client.call(method, path, query=query, what=what)
        except FatalError as exc:
            raise FatalError(f"While checking {spec.label} {self._where(spec)}: {exc}") from None
        return _json_or_empty(response)

    def _fatal(self, spec: RuleSpec, exc: ApiError, doing: str) -> FatalError:
        return FatalError(
            f"Could not {doing} {self._where(spec)}: {exc.answer.describe()}. The token needs "
            "the scopes rw_conversions and r_ads, and its member a role on ad account "
            f"{spec.account_id} other than VIEWER (ACCOUNT_BILLING_ADMIN, ACCOUNT_MANAGER, "
            "CAMPAIGN_MANAGER or CREATIVE_MANAGER)."
        )


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
