"""Values the tests share: one place, so a test and the config it checks cannot drift apart.

Unit tests answer HTTP with requests-mock at API_BASE, which is never a real host; the
end-to-end tests talk to the bundled emulator with EMULATOR_TOKEN and EMULATOR_ACCOUNT.
"""

from __future__ import annotations

API_BASE = "https://api.linkedin.test/rest"
OAUTH_URL = "https://www.linkedin.test/oauth/v2/accessToken"
TOKEN = "tok-SECRET-abc123"
ACCOUNT = "123"
RULE = "456"
RULE_URN = f"urn:lla:llaPartnerConversion:{RULE}"
ACCOUNT_QUERY = "account=urn%3Ali%3AsponsoredAccount%3A123"
API_VERSION = "202609"

EMULATOR_TOKEN = "emulator-token"
EMULATOR_ACCOUNT = 5010001

DAY_MS = 86_400_000
# Settings reach the target through variables with this prefix (Meltano's convention).
TARGET_ENV_PREFIX = "TARGET_LINKEDIN_CAPI_"
