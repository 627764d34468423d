"""A local stand-in for LinkedIn's REST API (Conversions API, rules, campaigns, OAuth).

LinkedIn has no sandbox, so tests, the demo and the benchmark run against this emulator::

    from linkedin_capi_emulator import Emulator

    with Emulator(accounts=[5010001], campaigns={5010001: [6010001]}) as emu:
        rule_id = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
        ...  # point the client at emu.base_url / emu.oauth_token_url
        assert emu.state.summary()["accepted_events"] == 1

Module map: ``app`` (Emulator facade), ``server`` (HTTP I/O), ``router`` (routes, 404/405),
``gateway`` (version, auth, throttle), ``events`` / ``rules_api`` / ``links`` / ``accounts`` /
``oauth`` (endpoints), ``validation`` / ``rule_validation`` (LinkedIn's exact messages),
``restli`` (key and List syntax), ``faults`` (injection), ``state`` (data + lock),
``control`` (``/_emulator``), ``errors`` (verbatim bodies), ``versions``, ``messages``.
"""

from .app import Emulator
from .state import State

__all__ = ["Emulator", "State"]
