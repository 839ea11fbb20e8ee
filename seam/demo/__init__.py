"""`seam demo`: the whole story in one command — signals, a human's approval, trades, a restart, a halt drill.

It runs the real daemon (real filesystem observer, real pipeline, real bead store) on a seam in a
temporary folder (or --seam DIR), on a simulated market clock so it runs on any day, and narrates:

    FORMING signal → READY signal → evidence (pending_approval) → the human's code → bracket → fills
    → MANAGED → the market reaches the target or the stop → CLOSED, AUTOPSY, responses/trade-<id>.md
    three trades over two daemon sessions → a halt drill (RB-004) → summary → `beads verify`

MOCK mode uses the in-process FakeBroker; PAPER mode starts the fake IB Gateway in-process and goes
through the real IB client library, with a forced gateway disconnect and the link's recovery.
The demo plays the human for the approvals and says so; it never prints an approval code. Every wait
is bounded: any failure is named and the command exits 1. It writes only inside the demo's seam folder.

    command.py   run_demo: refusals, the seam folder, the story, the exit code
    script.py    the modes, the scripted trades, the simulated clock's start, the bound on every wait
    story.py     Story: the narrated steps against a real daemon
    agent.py     the agent's side: intents written atomically, responses read back
    market.py    where the demo moves prices (the daemon's FakeBroker, or the fake gateway)
    threads.py   the daemon and the fake IB Gateway, each on an event loop of its own
    waits.py     bounded waits on responses, beads and position states
    output.py    the opening, the narration, responses in panels, the summary
"""

from seam.demo.command import run_demo
from seam.demo.script import MODES

__all__ = ["MODES", "run_demo"]
