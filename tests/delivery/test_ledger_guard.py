"""The dispatcher with the delivery ledger: skips, records after 2xx, in-run duplicates."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from target_linkedin_capi.delivery.dispatcher import Batch, Dispatcher, Item, LedgerGuard
from target_linkedin_capi.delivery.ledger import open_ledger
from target_linkedin_capi.report.tally import RunTally
from tests.delivery.test_dispatcher import FakeClient, refused

RULE_ID = "456"
LABEL = f"rule {RULE_ID}"


def item(event_id: str | None, version: int = 1) -> Item:
    body = json.dumps({"eventId": event_id, "v": version}).encode()
    return Item(body, event_id, "orders", LABEL, {"id": event_id}, None, RULE_ID)


def deliver(tmp_path: Path, client: FakeClient, batches: list[list[Item]], inflight: int = 4):
    report = RunTally(None)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    guard = LedgerGuard(ledger, report)
    dispatcher = Dispatcher(
        client=client, report=report, batch_size=2, max_inflight=inflight, guard=guard
    )
    for n, items in enumerate(batches):
        dispatcher.submit(Batch(min_seq=n, resolve=lambda items=items: list(items)))
    dispatcher.wait_all()
    dispatcher.close()
    stats = ledger.stats()
    ledger.close()
    return report.tally(LABEL), stats


def test_a_copy_waits_for_the_first_and_is_sent_when_linkedin_refused_the_first(tmp_path):
    gate = threading.Event()
    first_answer: list[bool] = []

    def decide(ids: list[str]):
        bodies = ids
        if "a" in bodies and not first_answer:
            first_answer.append(True)
            gate.wait(5)  # the second batch, holding another copy of a, is resolved meanwhile
            return refused(failures={bodies.index("a"): "ERROR :: /x :: bad"})
        return None

    client = FakeClient(decide)
    release = threading.Timer(0.5, gate.set)
    release.start()
    tally, stats = deliver(tmp_path, client, [[item("a"), item("b")], [item("a", 2), item("c")]])
    release.cancel()
    sent_a = [call for call in client.calls if "a" in call]
    # a refused once, then its copy sent (and accepted); each id accepted once at most.
    assert len(sent_a) == 2, client.calls
    assert tally.accepted == 3 and tally.skipped_already_sent == 0
    assert stats[0].entries == 3


def test_events_accepted_before_are_skipped_and_copies_in_one_batch_sent_once(tmp_path):
    client = FakeClient()
    deliver(tmp_path, client, [[item("a"), item("b")]])
    client.calls.clear()
    tally, stats = deliver(
        tmp_path, client, [[item("a"), item("c"), item("c"), item(None), item(None)]]
    )
    assert sorted(i for call in client.calls for i in call if i) == ["c"]
    assert tally.skipped_already_sent == 2  # a (an earlier run) and c's copy
    assert tally.not_deduplicated == 2 and tally.out == 3  # c and both events without an id
    assert stats[0].entries == 3
