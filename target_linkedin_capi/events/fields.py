"""The canonical fields a record maps onto, and the LinkedIn element each one feeds."""

from __future__ import annotations

# canonical field -> where it lands in LinkedIn's event (README "Field mapping" table).
CANONICAL_FIELDS: tuple[str, ...] = (
    "timestamp",  # conversionHappenedAt (epoch ms)
    "event_id",  # eventId
    "value_amount",  # conversionValue.amount (decimal string)
    "value_currency",  # conversionValue.currencyCode
    "email",  # user.userIds SHA256_EMAIL
    "linkedin_first_party_ads_tracking_uuid",  # LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID
    "acxiom_id",  # ACXIOM_ID
    "oracle_moat_id",  # ORACLE_MOAT_ID
    "ip_address",  # PLAINTEXT_IP_ADDRESS or SHA256_IP_ADDRESS
    "google_aid",  # GOOGLE_AID
    "first_name",  # user.userInfo.firstName
    "last_name",  # user.userInfo.lastName
    "company_name",  # user.userInfo.companyName
    "title",  # user.userInfo.title
    "country_code",  # user.userInfo.countryCode
    "external_id",  # user.externalIds[0]
    "lead_id",  # user.lead (urn:li:leadGenFormResponse:<id>)
)

# Identifiers sent as-is in user.userIds.
PASSTHROUGH_ID_TYPES: tuple[tuple[str, str], ...] = (
    ("linkedin_first_party_ads_tracking_uuid", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"),
    ("acxiom_id", "ACXIOM_ID"),
    ("oracle_moat_id", "ORACLE_MOAT_ID"),
    ("google_aid", "GOOGLE_AID"),
)
