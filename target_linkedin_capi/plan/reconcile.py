"""Conversion rules as code: verify, find or create, reconcile, and link campaigns.

Runs once per configured rule before the first event is sent. Declarative and idempotent:
a second run finds what the first created, changes only what drifted, and links only
campaigns not yet linked. Links are only ever added; removing one is a deliberate act the
target never does on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import advice
from target_linkedin_capi.linkedin import vocabulary as linkedin
from target_linkedin_capi.linkedin.client import LinkedInClient
from target_linkedin_capi.linkedin.errors import LinkedInError
from target_linkedin_capi.linkedin.models import RULE_FIELDS, ConversionRule, RuleDraft
from target_linkedin_capi.linkedin.transport import RECORDED_CREATE_ID
from target_linkedin_capi.plan.rules import RuleSpec

logger = logging.getLogger(__name__)

# Setting <- ConversionRule attribute <- RuleSpec attribute, for what the target reconciles.
RECONCILED_FIELDS = (
    ("conversion_rule_name", "name", "name"),
    ("conversion_type", "type", "conversion_type"),
    ("attribution_type", "attribution_type", "attribution_type"),
    ("post_click_attribution_window_size", "post_click_window", "post_click_window"),
    ("view_through_attribution_window_size", "view_through_window", "view_through_window"),
)
_CREATE_TRIES = 3


@dataclass
class ResolvedRule:
    """A rule as LinkedIn has it, after this run made it match the config."""

    spec: RuleSpec
    rule_id: str
    urn: str
    actions: list[str] = field(default_factory=list)  # what was (or would be) done
    linked_campaigns: set[str] = field(default_factory=set)

    @property
    def is_planned(self) -> bool:
        """A rule a dry run would create: it has no id yet."""
        return self.rule_id == RECORDED_CREATE_ID

    @property
    def label(self) -> str:
        """How reports name the rule: its id and, when configured, its name."""
        number = "(new)" if self.is_planned else self.rule_id
        return f"rule {number}" + (f" '{self.spec.name}'" if self.spec.name else "")


class RuleManager:
    """Ensures every configured rule once per run; safe to call from several threads.

    Writes go through the client's transport, which either sends them or (dry run) records
    them; `client.told()` gives the words for what was done or would be done.
    """

    def __init__(self, client: LinkedInClient) -> None:
        self.client = client
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
            found = self.client.get_rule(spec.account_id, spec.rule_id)
            self._verify(spec, found)
            rule: ConversionRule | None = found
        else:
            rule = self._find_by_name(spec)
        if rule is None:
            resolved = self._create(spec)
        else:
            resolved = ResolvedRule(spec, rule.id, rule.urn)
            self._reconcile(resolved, rule)
            resolved.linked_campaigns |= rule.campaigns
        self._by_identity[identity] = resolved
        self._link_campaigns(resolved, spec)
        return resolved

    @staticmethod
    def _verify(spec: RuleSpec, rule: ConversionRule) -> None:
        assert spec.rule_id is not None
        if rule.account_id != spec.account_id:
            raise FatalError(
                advice.rule_of_other_account(spec.rule_id, rule.account, spec.account_id)
            )
        if rule.method != linkedin.CONVERSIONS_API_METHOD:
            raise FatalError(
                advice.rule_not_conversions_api(spec.rule_id, spec.account_id, rule.method)
            )
        if rule.enabled is False:
            raise FatalError(advice.rule_disabled(spec.rule_id, spec.account_id))

    def _find_by_name(self, spec: RuleSpec) -> ConversionRule | None:
        for rule in self.client.find_rules(spec.account_id):
            if rule.name != spec.name:
                continue
            if rule.takes_server_events:
                return rule
            logger.warning(
                "Ignoring conversion rule %s named '%s' %s: it is %s, so it cannot "
                "receive Conversions API events",
                rule.id,
                spec.name,
                advice.where(spec.account_id),
                "disabled" if rule.enabled is False else f"a {rule.method} rule",
            )
        return None

    def _create(self, spec: RuleSpec) -> ResolvedRule:
        assert spec.name is not None
        assert spec.conversion_type is not None
        draft = RuleDraft(
            name=spec.name,
            account_id=spec.account_id,
            type=spec.conversion_type,
            attribution_type=spec.attribution_type,
            post_click_window=spec.post_click_window,
            view_through_window=spec.view_through_window,
        )
        # Creating is not idempotent: after a transient failure, look again before retrying.
        for attempt in range(1, _CREATE_TRIES + 1):
            try:
                rule_id = self.client.create_rule(draft)
                break
            except LinkedInError as exc:  # only the retryable ones reach here
                logger.warning(
                    "Creating conversion rule '%s' failed (%s); checking whether LinkedIn "
                    "created it anyway before trying again",
                    spec.name,
                    _cause(exc),
                )
                found = self._find_by_name(spec)
                if found is not None:
                    return ResolvedRule(spec, found.id, found.urn)
                if attempt == _CREATE_TRIES:
                    raise FatalError(
                        advice.rule_creation_kept_failing(spec.name, spec.account_id, _cause(exc))
                    ) from None
                time.sleep(2**attempt)
        resolved = ResolvedRule(spec, rule_id, linkedin.rule_urn(rule_id))
        where = advice.where(spec.account_id)
        action = self.client.told(
            f"created rule {rule_id} '{spec.name}'",
            f"would create rule '{spec.name}' ({spec.conversion_type}, "
            f"{spec.attribution_type}, post-click {spec.post_click_window} d, view-through "
            f"{spec.view_through_window} d) {where}",
        )
        logger.info(
            "%s",
            self.client.told(
                f"Created conversion rule {rule_id} '{spec.name}' {where}. "
                + advice.rule_created(rule_id),
                f"Dry run: {action}",
            ),
        )
        resolved.actions.append(action)
        return resolved

    def _reconcile(self, resolved: ResolvedRule, rule: ConversionRule) -> None:
        spec = resolved.spec
        changes: dict[str, object] = {}
        for setting, rule_attribute, spec_attribute in RECONCILED_FIELDS:
            if setting not in spec.explicit and not (
                setting == "conversion_rule_name" and spec.rule_id and spec.name
            ):
                continue  # defaults never cause an update
            wanted = getattr(spec, spec_attribute)
            if wanted is not None and getattr(rule, rule_attribute) != wanted:
                changes[rule_attribute] = wanted
        if not changes:
            logger.info("Conversion rule %s '%s' matches the config", resolved.rule_id, rule.name)
            return
        described = ", ".join(
            f"{RULE_FIELDS[name]} {getattr(rule, name)} -> {value}"
            for name, value in changes.items()
        )
        self.client.partial_update_rule(resolved.rule_id, spec.account_id, changes)
        action = self.client.told(
            f"updated rule {resolved.rule_id}: {described}",
            f"would change rule {resolved.rule_id}: {described}",
        )
        logger.info(
            "%s",
            self.client.told(
                f"Updated conversion rule {resolved.rule_id}: {described}", f"Dry run: {action}"
            ),
        )
        resolved.actions.append(action)

    def _link_campaigns(self, resolved: ResolvedRule, spec: RuleSpec) -> None:
        todo = [c for c in spec.campaign_ids if c not in resolved.linked_campaigns]
        if not todo:
            return
        rule = "the new rule" if resolved.is_planned else f"rule {resolved.rule_id}"
        for campaign in todo:
            self.client.link_campaign(campaign, resolved.urn, account_id=spec.account_id)
            resolved.linked_campaigns.add(campaign)
        action = self.client.told(
            f"linked campaigns {', '.join(todo)} to rule {resolved.rule_id}",
            f"would link campaigns {', '.join(todo)} to {rule}",
        )
        # One line for the whole change, as for a rule created or updated.
        logger.info(self.client.told("Conversion rule set-up: %s", "Dry run: %s"), action)
        resolved.actions.append(action)


def _cause(error: LinkedInError) -> str:
    return f"HTTP {error.http_status}" if error.http_status else error.describe()
