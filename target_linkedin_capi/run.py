"""One run of the target: the objects that live from the first SCHEMA to the summary.

config -> `Settings` -> `Run` (client, rules, ledger, dispatcher, checkpoints, report).
Built in `Target.__init__` without touching the network; when the first stream's SCHEMA
arrives the delivery ledger is opened, then LinkedIn is first called (rules), then again
when the first batch is full (events). A ledger that cannot be opened stops the run there,
before anything is changed or sent at LinkedIn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any

from target_linkedin_capi.config.settings import RuleSpec, Settings
from target_linkedin_capi.delivery.checkpoints import Checkpoints
from target_linkedin_capi.delivery.dispatcher import Dispatcher, LedgerGuard
from target_linkedin_capi.delivery.ledger import PRUNE_LIMIT, LedgerError, open_ledger
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.auth import TokenManager
from target_linkedin_capi.linkedin.client import LinkedInClient
from target_linkedin_capi.linkedin.transport import HttpTransport, RecordingTransport
from target_linkedin_capi.plan.reconcile import ResolvedRule, RuleManager
from target_linkedin_capi.report.tally import JsonLines, RunTally

logger = logging.getLogger(__name__)


class Run:
    def __init__(self, settings: Settings, write_state: Callable[[dict[str, Any]], None]) -> None:
        self.settings = settings
        self.report = RunTally(
            settings.rejected_records_path,
            settings.rejected_records_mask_secret,
            dry_run=settings.dry_run,
        )
        self.checkpoints = Checkpoints(write_state)
        # A dry run delivers nothing, so it must not move the tap's bookmark either.
        self.checkpoints.closed = settings.dry_run
        self.dry_run_output = JsonLines(settings.dry_run_output_path)
        self._rules_lock = threading.Lock()
        self._rules_ready: list[ResolvedRule] | None = None

    @cached_property
    def client(self) -> LinkedInClient:
        s = self.settings
        session = LinkedInClient.new_session(s.max_inflight_batches + 2)
        tokens = TokenManager(
            access_token=s.access_token,
            refresh_token=s.refresh_token,
            client_id=s.client_id,
            client_secret=s.client_secret,
            oauth_token_url=s.oauth_token_url,
            refresh_token_path=s.refresh_token_path,
            session=session,
            timeout=(s.connect_timeout, s.read_timeout),
        )
        http = HttpTransport(
            api_base_url=s.api_base_url,
            api_version=s.api_version,
            tokens=tokens,
            session=session,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            retry_max_attempts=s.retry_max_attempts,
            retry_max_wait_seconds=s.retry_max_wait_seconds,
            rate_limit_per_minute=s.rate_limit_per_minute,
        )
        # The one place a dry run differs: writes are recorded instead of sent.
        if s.dry_run:
            return LinkedInClient(RecordingTransport(http, self.dry_run_output))
        return LinkedInClient(http)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        s = self.settings
        return Dispatcher(
            client=self.client,
            report=self.report,
            batch_size=s.batch_size,
            # One at a time when recording, so the dry-run file lists batches in order.
            max_inflight=1 if s.dry_run else s.max_inflight_batches,
            guard=self.guard,
        )

    @cached_property
    def guard(self) -> LedgerGuard | None:
        """The delivery ledger (None when ledger_enabled is false); raises LedgerError."""
        s = self.settings
        if not s.ledger_enabled:
            return None
        # A dry run only reads it: what it would skip is reported, nothing is written.
        ledger = open_ledger(s.ledger_url, s.ledger_schema, read_only=s.dry_run)
        logger.info(
            "Delivery ledger: %s%s", ledger.url, " (read only: dry run)" if s.dry_run else ""
        )
        return LedgerGuard(ledger, self.report, scratch_writes=s.dry_run)

    def secrets(self) -> set[str]:
        found = set(self.settings.secrets)
        if "client" in self.__dict__:  # tokens refreshed during the run
            found |= self.client.tokens.secrets
        return found

    def ensure_rules(self) -> list[ResolvedRule]:
        """Every configured rule, verified/created/reconciled/linked once per run."""
        with self._rules_lock:
            if self._rules_ready is None:
                manager = RuleManager(self.client)
                # Each planned change is logged once, by the manager as it plans it.
                self._rules_ready = manager.ensure_all(self.settings.rules)
            return self._rules_ready

    def rules_for_stream(self, stream_name: str) -> list[tuple[RuleSpec, ResolvedRule]]:
        # The ledger first: without it nothing may be sent, so nothing is changed either.
        _ = self.guard
        specs = self.settings.rules_for(stream_name)
        if not specs:
            raise FatalError(
                f"Stream '{stream_name}' matches the `streams` of no entry in conversion_rules, "
                "and there is no top-level rule (conversion_rule_id or conversion_rule_name) "
                "to send it to. Add the stream to an entry's streams, or declare a top-level "
                "rule."
            )
        by_spec = dict(zip(self.settings.rules, self.ensure_rules(), strict=True))
        return [(spec, by_spec[spec]) for spec in specs]

    def lowest_unresolved_seq(self, buffered: list[int | None]) -> int | None:
        candidates = [seq for seq in buffered if seq is not None]
        if "dispatcher" in self.__dict__:
            inflight = self.dispatcher.lowest_unresolved_seq()
            if inflight is not None:
                candidates.append(inflight)
        return min(candidates, default=None)

    def _prune(self, guard: LedgerGuard) -> None:
        """Entries past LinkedIn's window go, in work bounded by what this run recorded.

        Removing up to twice what was added keeps the ledger at about 90 days of
        conversions; the floor lets a ledger that grew before catch up over a few runs.
        """
        if guard.ledger.read_only:
            return
        try:
            removed = guard.ledger.prune(limit=PRUNE_LIMIT + 2 * guard.recorded)
        except LedgerError as exc:  # delivery is over: worth a warning, not a failure
            logger.warning("Old ledger entries were not pruned this run: %s", exc)
            return
        if removed:
            logger.info("Pruned %d ledger entries older than LinkedIn's 90-day window", removed)

    def summary(self) -> list[str]:
        return self.report.summary_lines(dry_run=self.settings.dry_run)

    def close(self) -> None:
        if "dispatcher" in self.__dict__:
            self.dispatcher.close()
        guard = self.__dict__.get("guard")
        if guard is not None:
            self._prune(guard)
            guard.close()
            guard.ledger.close()
        self.report.rejected_file.close()
        self.dry_run_output.close()
