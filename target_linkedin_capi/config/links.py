"""Campaign Manager links, accepted wherever an account, campaign or rule id is.

Operators copy ids out of the browser's address bar; accepting the whole link saves a step
and an error, and the link says which account the campaign or rule belongs to, so a link
for another account than the configured one is caught before anything is sent.

Forms accepted (https, host www.linkedin.com or linkedin.com; query and fragment ignored):

    /campaignmanager/accounts/<account>[/...]                            an account
    /campaignmanager/accounts/<account>/campaigns/<campaign>[/...]       a campaign
    /campaignmanager/accounts/<account>/campaign-groups/<group>/campaigns/<campaign>[/...]
    /campaignmanager/accounts/<account>/conversions/<rule>[/...]         a conversion rule
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

HOSTS = frozenset({"www.linkedin.com", "linkedin.com"})
# Real links are well under this; a longer value is refused before it is parsed.
MAX_LINK_LENGTH = 2048
_FORMS = (
    "https://www.linkedin.com/campaignmanager/accounts/<account>/campaigns/<campaign> or "
    ".../accounts/<account>/conversions/<rule>"
)


class LinkError(ValueError):
    """A value that is meant as a link but is not a Campaign Manager link we understand."""


@dataclass(frozen=True)
class CampaignManagerLink:
    account: str
    campaign: str | None = None
    campaign_group: str | None = None
    conversion: str | None = None


def looks_like_link(value: object) -> bool:
    """A value that is a URL rather than an id or URN (URNs have no `//`)."""
    return isinstance(value, str) and "//" in value


def parse_link(value: str) -> CampaignManagerLink:
    """The ids a Campaign Manager link names; LinkError (without the link) when not one."""
    text = value.strip()
    if len(text) > MAX_LINK_LENGTH:
        raise LinkError(f"is longer than {MAX_LINK_LENGTH} characters; not a Campaign Manager link")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise LinkError(f"is not a valid link; expected {_FORMS}") from None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() != "https" or host not in HOSTS or port not in (None, 443):
        raise LinkError(
            f"is not a Campaign Manager link (https on www.linkedin.com); expected {_FORMS}"
        )
    if parts.username is not None or parts.password is not None:
        raise LinkError("holds credentials; paste the link as Campaign Manager shows it")
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments[:2] != ["campaignmanager", "accounts"] or len(segments) < 3:
        raise LinkError(f"is not a link into a Campaign Manager account; expected {_FORMS}")
    account = segments[2]
    if not account.isascii() or not account.isdigit():
        raise LinkError(f"does not name an account by its number; expected {_FORMS}")
    rest = segments[3:]
    found: dict[str, str] = {}
    # Pairs of (kind, id) after the account; anything after the last id (a tab such as
    # /details or /overview) is the page shown, not another id.
    names = {
        "campaigns": "campaign",
        "campaign-groups": "campaign_group",
        "conversions": "conversion",
    }
    while len(rest) >= 2 and rest[0] in names:
        if not (rest[1].isascii() and rest[1].isdigit()):
            break
        found[names[rest[0]]] = rest[1]
        rest = rest[2:]
    return CampaignManagerLink(account=account, **found)
