"""LinkedIn's REST API as the operations this target uses, with typed answers.

Named after the Rest.li methods they are (as LinkedIn's linkedin-api-python-client names
its operations): GET a rule, FINDER over rules, CREATE, PARTIAL_UPDATE, an UPDATE (PUT)
that links a campaign, BATCH_CREATE of events, and the lookups an operator needs.

This is also the one boundary between LinkedIn's errors and the target's: an operation
lets through only the `LinkedInError`s its caller handles (a refused batch of events; a
failed rule creation worth checking on) and turns every other into a `FatalError` whose
text (from advice.py) says what to fix. See `_boundary`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import advice, restli, vocabulary
from target_linkedin_capi.linkedin.auth import TokenManager, host_of
from target_linkedin_capi.linkedin.errors import BatchRefusedError, LinkedInError, NotFoundError
from target_linkedin_capi.linkedin.models import (
    RULE_FIELDS,
    AccountUser,
    AdAccount,
    Campaign,
    ConversionRule,
    RuleDraft,
    TokenInfo,
)
from target_linkedin_capi.linkedin.restli import RestliMethod
from target_linkedin_capi.linkedin.transport import (
    HttpTransport,
    RecordingTransport,
    Request,
    Transport,
    should_retry,
)

FINDER_PAGE_SIZE = 100
# Explains an error for one operation; given the text advice.py has for any call (or None).
Explain = Callable[[LinkedInError, "str | None"], str]


def _as_is(error: LinkedInError, generic: str | None) -> str:
    return generic or f"LinkedIn refused {error.what}: {error.describe()}"


class CallFailed(FatalError):
    """A FatalError from a LinkedIn call, keeping LinkedIn's error for callers (such as
    `--check`) that tell kinds of failure apart; its text is the explained one."""

    def __init__(self, message: str, error: LinkedInError) -> None:
        super().__init__(message)
        self.error = error


class LinkedInClient:
    """Thread-safe client for the calls this target makes."""

    def __init__(self, transport: Transport | None = None, **http_settings: Any) -> None:
        # Either a transport, or HttpTransport's settings (as tests and scripts pass them).
        self.transport: Transport = transport or HttpTransport(**http_settings)
        inner = self.transport
        self.http: HttpTransport = inner.inner if isinstance(inner, RecordingTransport) else inner

    new_session = staticmethod(HttpTransport.new_session)

    @property
    def session(self) -> requests.Session:
        return self.http.session

    @property
    def tokens(self) -> TokenManager:
        return self.http.tokens

    @property
    def aborted(self) -> Any:
        return self.http.aborted

    @aborted.setter
    def aborted(self, event: Any) -> None:
        self.http.aborted = event

    def abort(self) -> None:
        """The run failed: retry waits in other threads end now."""
        self.http.aborted.set()

    def told(self, done: str, planned: str) -> str:
        """`done` when writes are sent, `planned` when the transport only records them."""
        return planned if self.transport.records_writes else done

    # -- conversion rules -----------------------------------------------------------------

    def get_rule(self, account_id: str, rule_id: str) -> ConversionRule:
        def explain(error: LinkedInError, generic: str | None) -> str:
            if isinstance(error, NotFoundError):
                return advice.rule_missing(rule_id, account_id, error)
            if generic is None:
                return advice.rule_call_failed(
                    f"look up conversion rule {rule_id}", account_id, error
                )
            return advice.while_checking(f"conversion rule {rule_id}", account_id, generic)

        with self._boundary(explain):
            data = self._send(
                Request(
                    RestliMethod.GET,
                    f"/conversions/{rule_id}",
                    f"lookup of conversion rule {rule_id}",
                    query=_account_query(account_id),
                )
            ).json()
        rule = ConversionRule.from_json(data)
        if rule is None:  # an answer without its own id: the one asked for
            rule = ConversionRule.from_json({**_dict(data), "id": rule_id})
        assert rule is not None
        return rule

    def find_rules(self, account_id: str) -> Iterator[ConversionRule]:
        """Every rule of the account, page by page (LinkedIn sends `paging.total` -1)."""

        def explain(error: LinkedInError, generic: str | None) -> str:
            if generic is None:
                return advice.rule_call_failed("search the conversion rules", account_id, error)
            return advice.while_checking("the conversion rules", account_id, generic)

        query = "q=account&" + restli.query({"account": vocabulary.account_urn(account_id)})
        what = f"search of the conversion rules of ad account {account_id}"
        for element in self._offset_pages("/conversions", what, query, explain):
            rule = ConversionRule.from_json(element)
            if rule is not None:
                yield rule

    def create_rule(self, draft: RuleDraft) -> str:
        """CREATE a rule; its id. Sent once: a lost answer may still have created it, so a
        retryable failure is raised for the caller to look before trying again."""

        def explain(error: LinkedInError, generic: str | None) -> str:
            if generic is None:
                return advice.rule_call_failed(
                    f"create conversion rule '{draft.name}'", draft.account_id, error
                )
            return generic

        with self._boundary(explain, passes=should_retry):
            answer = self._send(
                Request(
                    RestliMethod.CREATE,
                    "/conversions",
                    f"creation of conversion rule '{draft.name}'",
                    body=json.dumps(draft.to_json()).encode(),
                    attempts=1,
                )
            )
        created = _dict(answer.json()).get("id") or answer.headers.get(restli.CREATED_ID_HEADER)
        if not created:
            raise FatalError(advice.rule_created_without_id(draft.name))
        return str(created)

    def partial_update_rule(
        self, rule_id: str, account_id: str, changes: Mapping[str, object]
    ) -> None:
        """Set `changes` (ConversionRule attribute -> value) and leave the rest alone."""

        def explain(error: LinkedInError, generic: str | None) -> str:
            if generic is None:
                return advice.rule_call_failed(
                    f"update conversion rule {rule_id}", account_id, error
                )
            return generic

        fields = {RULE_FIELDS[name]: value for name, value in changes.items()}
        with self._boundary(explain):
            self._send(
                Request(
                    RestliMethod.PARTIAL_UPDATE,
                    f"/conversions/{rule_id}",
                    f"update of conversion rule {rule_id}",
                    query=_account_query(account_id),
                    body=json.dumps(restli.partial_update_body(fields)).encode(),
                )
            )

    def link_campaign(self, campaign_id: str, rule_urn: str, *, account_id: str = "?") -> None:
        """Associate a campaign with a rule (an UPDATE of the association entity)."""
        rule_id = vocabulary.rule_id(rule_urn) or rule_urn

        def explain(error: LinkedInError, generic: str | None) -> str:
            answer = error.describe() if generic is None else generic
            return advice.link_failed(campaign_id, rule_id, account_id, answer)

        campaign_urn = vocabulary.campaign_urn(campaign_id)
        key = restli.encode_key({"campaign": campaign_urn, "conversion": rule_urn})
        with self._boundary(explain):
            self._send(
                Request(
                    RestliMethod.UPDATE,
                    f"/campaignConversions/{key}",
                    f"link of campaign {campaign_id} to conversion rule {rule_id}",
                    body=json.dumps({"campaign": campaign_urn, "conversion": rule_urn}).encode(),
                )
            )

    # -- events ---------------------------------------------------------------------------

    def batch_create_events(self, body: bytes, count: int) -> None:
        """BATCH_CREATE `count` events, already encoded as `{"elements":[...]}` (the typed
        layer never touches single events). Raises BatchRefusedError for refused elements."""

        def explain(error: LinkedInError, generic: str | None) -> str:
            return generic or advice.events_refused(error)

        with self._boundary(explain, passes=lambda e: isinstance(e, BatchRefusedError)):
            self._send(
                Request(
                    RestliMethod.BATCH_CREATE,
                    "/conversionEvents",
                    f"batch of {count} conversion events",
                    body=body,
                    batch_count=count,
                )
            )

    # -- lookups (operator commands) ------------------------------------------------------

    def find_ad_account_users(self) -> Iterator[AccountUser]:
        """The ad accounts the token's member has a role on, with the role."""
        for element in self._offset_pages(
            "/adAccountUsers", "lookup of the token's ad accounts", "q=authenticatedUser", _as_is
        ):
            user = AccountUser.from_json(element)
            if user is not None:
                yield user

    def get_ad_account(self, account_id: str) -> AdAccount | None:
        with self._boundary(_as_is):
            data = self._send(
                Request(
                    RestliMethod.GET,
                    f"/adAccounts/{account_id}",
                    f"lookup of ad account {account_id}",
                )
            ).json()
        return AdAccount.from_json(data)

    def find_ad_accounts(self) -> Iterator[AdAccount]:
        """The ad accounts the token can see (search finder, cursor paging)."""
        for element in self._cursor_pages("/adAccounts", "search of the token's ad accounts"):
            account = AdAccount.from_json(element)
            if account is not None:
                yield account

    def find_campaigns(self, account_id: str) -> Iterator[Campaign]:
        """The account's campaigns (search finder, cursor paging since version 202401)."""
        for element in self._cursor_pages(
            f"/adAccounts/{account_id}/adCampaigns",
            f"search of the campaigns of ad account {account_id}",
        ):
            campaign = Campaign.from_json(element)
            if campaign is not None:
                yield campaign

    def _offset_pages(self, path: str, what: str, query: str, explain: Explain) -> Iterator[object]:
        """Every element of a `start`/`count` finder, page by page.

        LinkedIn often sends `paging.total` -1 (the rules finder always does): then a page
        shorter than the page size it answered with, and without a `next` link, is the last
        one, so no further request is made just to get an empty page."""
        start = 0
        while True:
            page_query = f"{query}&" + restli.query({"start": start, "count": FINDER_PAGE_SIZE})
            with self._boundary(explain):
                page = _dict(
                    self._send(Request(RestliMethod.FINDER, path, what, query=page_query)).json()
                )
            elements = page.get("elements")
            elements = elements if isinstance(elements, list) else []
            yield from elements
            start += len(elements)
            paging = _dict(page.get("paging"))
            total = paging.get("total", -1)
            if not isinstance(total, int) or isinstance(total, bool):
                total = -1
            if not elements or 0 <= total <= start:
                return
            if total < 0 and not _has_next_link(paging):
                # The server may cap the page size below the one asked for, and says so.
                served = paging.get("count")
                size = FINDER_PAGE_SIZE
                if isinstance(served, int) and not isinstance(served, bool) and served > 0:
                    size = min(size, served)
                if len(elements) < size:
                    return

    def _cursor_pages(self, path: str, what: str) -> Iterator[object]:
        """Every element of a `q=search` finder, page by page until no nextPageToken."""
        token: str | None = None
        while True:
            query = "q=search&pageSize=" + str(FINDER_PAGE_SIZE)
            if token:
                query += "&pageToken=" + restli.encode_value(token)
            with self._boundary(_as_is):
                page = _dict(
                    self._send(Request(RestliMethod.FINDER, path, what, query=query)).json()
                )
            elements = page.get("elements")
            yield from elements if isinstance(elements, list) else []
            next_token = _dict(page.get("metadata")).get("nextPageToken")
            if not isinstance(next_token, str) or not next_token or next_token == token:
                return
            token = next_token

    def introspect_token(self) -> TokenInfo:
        """What LinkedIn knows of the access token (needs client_id and client_secret)."""
        form = self.tokens.introspection_form()
        if form is None:
            raise FatalError(advice.INTROSPECTION_NEEDS_CLIENT)
        with self._boundary(_as_is):
            data = self._send(
                Request(
                    RestliMethod.ACTION,
                    "",
                    "token introspection",
                    url=self.tokens.introspect_url,
                    form=form,
                )
            ).json()
        return TokenInfo.from_json(data)

    # -- the boundary ---------------------------------------------------------------------

    def _send(self, request: Request) -> Any:
        return self.transport.send(request)

    @contextmanager
    def _boundary(
        self,
        explain: Explain,
        passes: Callable[[LinkedInError], bool] = lambda error: False,
    ) -> Iterator[None]:
        """LinkedInError -> FatalError with what to do, except the errors `passes` lets
        through for the caller to handle. The one place this conversion happens."""
        try:
            yield
        except LinkedInError as error:
            if passes(error):
                raise
            generic = advice.for_error(
                error, base_url=self.http.base_url, host=host_of(self.http.base_url)
            )
            raise CallFailed(explain(error, generic), error) from None


def _account_query(account_id: str) -> str:
    return restli.query({"account": vocabulary.account_urn(account_id)})


def _has_next_link(paging: Mapping[str, Any]) -> bool:
    links = paging.get("links")
    return isinstance(links, list) and any(
        isinstance(link, Mapping) and link.get("rel") == "next" for link in links
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
