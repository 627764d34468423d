"""`--list accounts|campaigns|rules`: what LinkedIn holds, as Segment's dropdowns show it.

Read-only lookups, each paged through to the end. `accounts` needs only credentials (it is
how a user finds the ad account id to configure); `campaigns` and `rules` list those of the
configured ad account(s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from target_linkedin_capi.commands import register
from target_linkedin_capi.commands.output import print_json, print_table, wants_json
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.client import CallFailed, LinkedInClient
from target_linkedin_capi.linkedin.errors import AccessDeniedError, NotFoundError

if TYPE_CHECKING:
    from target_linkedin_capi.run import Run

LOOKUPS = ("accounts", "campaigns", "rules")

ACCOUNT_COLUMNS = (
    ("id", "ID"), ("name", "NAME"), ("status", "STATUS"), ("currency", "CURRENCY"),
    ("type", "TYPE"), ("role", "ROLE"),
)  # fmt: skip
CAMPAIGN_COLUMNS = (
    ("account_id", "ACCOUNT"), ("id", "ID"), ("name", "NAME"), ("status", "STATUS"),
    ("type", "TYPE"),
)  # fmt: skip
RULE_COLUMNS = (
    ("account_id", "ACCOUNT"), ("id", "ID"), ("name", "NAME"), ("type", "TYPE"),
    ("attribution_type", "ATTRIBUTION"), ("post_click_window", "POST-CLICK"),
    ("view_through_window", "VIEW-THROUGH"), ("enabled", "ENABLED"), ("method", "METHOD"),
    ("campaigns", "CAMPAIGNS"),
)  # fmt: skip


def account_rows(client: LinkedInClient) -> list[dict[str, Any]]:
    """Every ad account the token's member has a role on, with that role."""
    roles = {user.account_id: user.role for user in client.find_ad_account_users()}
    details = {account.id: account for account in client.find_ad_accounts()}
    rows = []
    for account_id, role in roles.items():
        account = details.get(account_id)
        rows.append(
            {
                "id": account_id,
                "name": account.name if account else None,
                "status": account.status if account else None,
                "currency": account.currency if account else None,
                "type": account.type if account else None,
                "test": account.test if account else None,
                "role": role,
            }
        )
    return sorted(rows, key=lambda row: int(row["id"]))


def campaign_rows(client: LinkedInClient, account_id: str) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account_id,
            "id": campaign.id,
            "name": campaign.name,
            "status": campaign.status,
            "type": campaign.type,
        }
        for campaign in client.find_campaigns(account_id)
    ]


def rule_rows(client: LinkedInClient, account_id: str) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account_id,
            "id": rule.id,
            "name": rule.name,
            "type": rule.type,
            "attribution_type": rule.attribution_type,
            "post_click_window": rule.post_click_window,
            "view_through_window": rule.view_through_window,
            "enabled": rule.enabled,
            "method": rule.method,
            "campaigns": sorted(rule.campaigns, key=int),
        }
        for rule in client.find_rules(account_id)
    ]


def reachable_account(client: LinkedInClient, account: str) -> None:
    """FatalError naming ad_account_id when the account cannot be looked up: LinkedIn's own
    answer to the campaign or rule lookup would blame the wrong thing (a rule id, say)."""
    try:
        client.get_ad_account(account)
    except CallFailed as exc:
        if isinstance(exc.error, (NotFoundError, AccessDeniedError)):
            raise FatalError(
                f"Ad account {account} does not exist or the token's member has no role on "
                "it. Fix ad_account_id: `--list accounts` (in Meltano, "
                "`meltano invoke target-linkedin-capi:accounts`) lists the accounts the token "
                "reaches."
            ) from None
        raise


def configured_accounts(run: Run) -> list[str]:
    """The ad accounts of the configured rules, in order, each once."""
    return list(dict.fromkeys(spec.account_id for spec in run.settings.rules))


@register(
    click.Option(
        ["--list", "lookup"],
        type=click.Choice(LOOKUPS),
        help="List what LinkedIn holds and exit (reads nothing from stdin): the ad accounts "
        "the token can reach (needs only the credentials), or the campaigns or conversion "
        "rules of the configured ad account. A table, or JSON with --format json.",
    ),
    # Listing the accounts is how a user finds the ad account id to configure.
    needs_rules=lambda lookup: lookup != "accounts",
)
def list_lookup(run: Run, lookup: str, output_format: str | None) -> int:
    client = run.client
    if lookup == "accounts":
        rows = account_rows(client)
        columns: tuple[tuple[str, str], ...] = ACCOUNT_COLUMNS
        empty = "The token's member has no role on any ad account."
    else:
        fetch = campaign_rows if lookup == "campaigns" else rule_rows
        for account in configured_accounts(run):
            reachable_account(client, account)
        rows = [row for account in configured_accounts(run) for row in fetch(client, account)]
        columns = CAMPAIGN_COLUMNS if lookup == "campaigns" else RULE_COLUMNS
        accounts = ", ".join(configured_accounts(run))
        empty = f"No {'campaigns' if lookup == 'campaigns' else 'conversion rules'} in ad account {accounts}."
    if wants_json(output_format):
        print_json({lookup: rows})
    else:
        print_table(rows, columns, empty)
    return 0
