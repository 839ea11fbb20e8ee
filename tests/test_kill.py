"""The kill test: a thousand mixed intents, twenty SIGKILLs (some inside the approve window), and then every answer
checked against the seam's own records and, per approval, against what the broker holds.

One seam in PAPER mode against one fake IB Gateway that lives in this process the whole time, so the broker's
truth survives every daemon kill. The intents are status, account, positions and open-orders reads, FORMING and
NONE signals, READY signals that become proposals (most of them approved with a real code the test gets as the
human at the console, some rejected, one in a while first given a wrong code), closes of filled positions and
their approvals, and bad intents. They are dropped in waves while daemons run, and before each daemon starts.

Some daemon runs are started with SEAM_FAILPOINTS=approve_before_submit=hang (the approval is recorded, the order
not sent yet) or approve_after_submit=hang (the broker accepted the order, seam has not recorded or answered it):
once the daemon says it reached the failpoint it is killed there. A reconciliation that halts the seam after a
kill is cleared by the test as the human would (`seam resume`), so approvals keep reaching the order path.

Checked at the end, after the last daemon answered everything and was stopped cleanly: one responses/<id>.md and
one INTENT bead `answered` per intent; nothing left in intents/processing/, tmp/ or incoming/; `seam beads
verify`; no orderRef sent twice (per bracket leg); per approval, an answer saying the order went has its order at
the gateway and one saying nothing was sent has none; no stop or target still working for a position seam ended.
Every failure names the intent, the proposal, the daemon run it was in flight in and what the gateway holds.
The machinery is in tests/killrun.py.

Run it alone with `pytest -m kill`; KILL_TEST_SEED=N replays a plan (the kill moments are real time, so only
approximately).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway import GatewayThread, loopback
from tests.killrun import ACCOUNT, KillRun, seed_from_env

pytestmark = [pytest.mark.kill, pytest.mark.slow]


def test_after_twenty_sigkills_every_intent_has_one_answer_and_every_approval_is_true_to_the_broker(
    tmp_path: Path,
) -> None:
    with GatewayThread(loopback(), 4002, ACCOUNT) as gateway:
        run = KillRun(tmp_path / "kill", gateway, seed=seed_from_env(20261118))
        try:
            run.play()
        finally:
            run.close()
        problems = run.check()
    summary = run.summary()
    print(summary)
    assert not problems, f"{len(problems)} problem(s):\n- " + "\n- ".join(problems) + "\n\n" + summary
