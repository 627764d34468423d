"""The bundled emulator, in a thread of the test process, for the operator commands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from linkedin_capi_emulator import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator
