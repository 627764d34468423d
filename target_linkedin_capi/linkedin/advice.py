"""Every text that tells a person what to do about LinkedIn, in one module.

The errors (errors.py) say what LinkedIn answered; these functions add what to fix. None of
them puts a token or LinkedIn's unredacted text in a message: they are given errors whose
`describe()` is already masked.
"""

from __future__ import annotations

from target_linkedin_capi.linkedin.errors import (
    AccessDeniedError,
    AuthenticationError,
    BatchRefusedError,
    ConnectionFailedError,
    LinkedInError,
    RedirectRefusedError,
    RequestNotSentError,
    TransientError,
    VersionSunsetError,
)

REAUTH_ADVICE = (
    "Get a new token: either an OAuth token with the scopes rw_conversions and r_ads (set "
    "access_token, or refresh_token + client_id + client_secret), or a Direct API token from "
    "Campaign Manager (Signals Manager > Direct API > Generate access token)."
)
ROLES = "ACCOUNT_BILLING_ADMIN, ACCOUNT_MANAGER, CAMPAIGN_MANAGER or CREATIVE_MANAGER"
NOTHING_MARKED = "nothing after the last checkpoint was marked as delivered"
VERSIONING_URL = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning"
LINKEDIN_REST_BASE = "https://api.linkedin.com/rest"
INTROSPECTION_NEEDS_CLIENT = (
    "Token introspection needs the OAuth app's client_id and client_secret; set both (the "
    "app that issued the access token)."
)


def where(account_id: str) -> str:
    return f"in ad account {account_id}"


# -- any call ----------------------------------------------------------------------------------


def for_error(error: LinkedInError, *, base_url: str, host: str) -> str | None:
    """What to do about an error whatever the call was; None when it depends on the call."""
    what = error.what or "call"
    if isinstance(error, AuthenticationError):
        if error.reason == "revoked":
            lead = "LinkedIn says the access token was revoked"
        elif error.refreshed:
            lead = "LinkedIn refused the freshly refreshed access token"
        else:
            lead = "LinkedIn refused the access token"
        return f"{lead} ({error.describe()}). {REAUTH_ADVICE}"
    if isinstance(error, VersionSunsetError):
        return (
            f"LinkedIn no longer serves API version {error.api_version} "
            f"({error.describe()}). Set api_version to a currently active version (LinkedIn "
            f"supports each monthly version for about a year; see {VERSIONING_URL})."
        )
    if isinstance(error, AccessDeniedError):
        return (
            f"LinkedIn refused {what}: {error.describe()}. Likely causes: the authorising "
            f"member lacks a role on the ad account ({ROLES}; VIEWER is not enough); the "
            "token lacks the scopes rw_conversions and r_ads; or the conversion rule id is "
            "wrong (LinkedIn answers an unknown rule with 'No ad accounts found')."
        )
    if isinstance(error, RedirectRefusedError):
        return (
            f"LinkedIn {what} answered with a redirect (HTTP {error.http_status}) from the "
            f"host of api_base_url ({host}). LinkedIn does not redirect these calls, so the "
            "target did not follow it and the token was sent nowhere else. Set api_base_url "
            f"to LinkedIn's REST base ({LINKEDIN_REST_BASE})."
        )
    if isinstance(error, RequestNotSentError):
        return (
            f"LinkedIn {what} could not be sent: {error.cause_name} (details withheld: they "
            "may quote the request and its token). Check access_token (no line breaks or "
            f"spaces) and api_base_url; {NOTHING_MARKED}."
        )
    attempts, seconds = error.retries or (1, 0.0)
    if isinstance(error, TransientError):
        return (
            f"LinkedIn {what} still failed with HTTP {error.http_status} after {attempts} "
            f"attempts or {seconds:.0f} s of retries. LinkedIn may be throttling this token "
            "(600 requests per minute, a daily cap that resets at 00:00 UTC) or having an "
            f"outage; run again later. {NOTHING_MARKED.capitalize()}."
        )
    if isinstance(error, ConnectionFailedError):
        return (
            f"LinkedIn {what} could not be completed: {error.cause_name} after {attempts} "
            f"attempts or {seconds:.0f} s of retries (api_base_url {base_url}). Check the "
            f"network and run again; {NOTHING_MARKED}."
        )
    return None


# -- events ------------------------------------------------------------------------------------


def events_refused(error: LinkedInError) -> str:
    return f"LinkedIn refused a batch of events: {error.describe()}"


def rule_refused_events(error: BatchRefusedError) -> str:
    # About the rule, not the events (it was disabled, or is not a Conversions API rule,
    # since startup): rejecting every event would lose them all.
    return (
        f"LinkedIn refused events because of their conversion rule: {error.describe()}. The "
        "rule changed after the target checked it at startup; enable it or point the target "
        f"at a Conversions API rule, then run again ({NOTHING_MARKED})."
    )


def systemic_refusals(count: int, error: LinkedInError) -> str:
    return (
        f"LinkedIn refused {count} events one by one with the same kind of answer and no "
        f"element named ({error.describe()}); that is not a problem of single events. "
        "Stopping instead of rejecting them all."
    )


# -- conversion rules --------------------------------------------------------------------------


def while_checking(subject: str, account_id: str, text: str) -> str:
    return f"While checking {subject} {where(account_id)}: {text}"


def rule_call_failed(doing: str, account_id: str, error: LinkedInError) -> str:
    return (
        f"Could not {doing} {where(account_id)}: {error.describe()}. The token needs the "
        f"scopes rw_conversions and r_ads, and its member a role on ad account {account_id} "
        f"other than VIEWER ({ROLES})."
    )


def rule_missing(rule_id: str, account_id: str, error: LinkedInError) -> str:
    return (
        f"Conversion rule {rule_id} does not exist {where(account_id)} (LinkedIn: "
        f"{error.describe()}). Check conversion_rule_id and ad_account_id, or remove "
        "conversion_rule_id and set conversion_rule_name and conversion_type to have the "
        "target create the rule."
    )


def rule_of_other_account(rule_id: str, rule_account: object, account_id: str) -> str:
    return (
        f"Conversion rule {rule_id} belongs to ad account {rule_account}, not to ad account "
        f"{account_id} (ad_account_id). Events can only be sent to a rule of the configured "
        "account."
    )


def rule_not_conversions_api(rule_id: str, account_id: str, method: str | None) -> str:
    return (
        f"Conversion rule {rule_id} {where(account_id)} was made for "
        f"{method or 'another method'} (e.g. the Insight Tag), not the Conversions API; "
        "LinkedIn refuses server events for it. Create a Conversions-API rule (or set "
        "conversion_rule_name and conversion_type instead of conversion_rule_id and the "
        "target creates one)."
    )


def rule_disabled(rule_id: str, account_id: str) -> str:
    return (
        f"Conversion rule {rule_id} {where(account_id)} is disabled; LinkedIn refuses events "
        "for it. Enable it in Campaign Manager or configure another rule."
    )


def rule_created_without_id(name: str) -> str:
    return (
        f"LinkedIn created conversion rule '{name}' but returned no id; the next run finds "
        "it by name."
    )


def rule_creation_kept_failing(name: str, account_id: str, cause: str) -> str:
    return (
        f"Could not create conversion rule '{name}' {where(account_id)}: LinkedIn kept "
        f"failing ({cause}). Run again later."
    )


def rule_created(rule_id: str) -> str:
    return f"Pin it with conversion_rule_id: {rule_id} to skip the name search on later runs."


def link_failed(campaign_id: str, rule_id: str, account_id: str, answer: str) -> str:
    return (
        f"Could not link campaign {campaign_id} to conversion rule {rule_id} "
        f"{where(account_id)} ({answer}). Check that the campaign exists and belongs to that "
        "ad account (campaign_ids). The rule itself is kept; the next run finds it and only "
        "retries the links."
    )


# -- `--check` ---------------------------------------------------------------------------------

LIST_ACCOUNTS = "`target-linkedin-capi --config FILE --list accounts` shows the reachable ones"
LIST_CAMPAIGNS = "`--list campaigns` shows the account's campaigns"
SCOPES = ("rw_conversions", "r_ads")


def no_role(account_id: str) -> str:
    return (
        f"The token's member has no role on ad account {account_id}. Check ad_account_id "
        f"({LIST_ACCOUNTS}), or have an account manager give the member one of {ROLES}."
    )


def viewer_role(account_id: str) -> str:
    return (
        f"The token's member is only a VIEWER of ad account {account_id}; LinkedIn refuses "
        f"conversions from viewers. Have an account manager give it one of {ROLES}, or use a "
        "token of a member that has one."
    )


def missing_scopes(missing: list[str], scopes: list[str]) -> str:
    return (
        f"The access token lacks the scope(s) {', '.join(missing)} (it has: "
        f"{', '.join(scopes) or 'none'}). {REAUTH_ADVICE}"
    )


def token_inactive(status: str | None) -> str:
    return (
        f"LinkedIn's token introspection says the access token is {status or 'not active'} "
        f"(or was issued to another app than client_id). {REAUTH_ADVICE}"
    )


def token_expires_soon(days: int, when: str) -> str:
    return (
        f"The access token expires in {days} day(s), on {when}. Get a new one before then "
        "(with refresh_token, client_id and client_secret configured, the target refreshes "
        "it; if it was just refreshed, the app's tokens are short-lived: check the app)."
    )


INTROSPECTION_UNKNOWN = (
    "LinkedIn's token introspection gave no answer for this token ({answer}), so its scopes "
    "and expiry are unknown. Direct API tokens from Campaign Manager cannot be introspected; "
    "for an OAuth token, check that client_id and client_secret belong to the app that "
    "issued it."
)


def version_sunset_soon(version: str, when: str, days: int, documented: bool, newest: str) -> str:
    source = "LinkedIn's migrations table" if documented else "about a year after its release"
    timing = f"in {days} day(s)" if days >= 0 else f"{-days} day(s) ago"
    return (
        f"api_version {version} is sunset on {when} ({timing}, per {source}); after that every "
        f"call fails with 426. Set api_version to a newer version, e.g. {newest}."
    )


def campaign_not_in_account(campaign_id: str, account_id: str) -> str:
    return (
        f"Campaign {campaign_id} is not a campaign of ad account {account_id}; linking it to "
        f"the rule would fail. Fix campaign_ids ({LIST_CAMPAIGNS}) or ad_account_id."
    )


def folder_unwritable(path: str, problem: str) -> str:
    return (
        f"The target cannot write {path}: {problem}. Point the setting at a file in a folder "
        "the target's user can write, or create that folder."
    )
