"""The Ray engine: the same hunt as Ray tasks on a local Ray instance gives the local engine's table exactly.

Runs in its own CI leg (.ci/ray_leg.sh installs the `ray` extra); skipped where Ray is not installed.
"""

from __future__ import annotations

import pytest

from seam.intent import HuntPayload
from seam.research.engines import LocalEngine, RayEngine
from seam.research.hunt import plan_hunt

pytestmark = pytest.mark.ray


def test_ray_tasks_give_the_same_hunt_table_as_local_processes(data_dir):
    ray = pytest.importorskip("ray")
    grid = {"fast": [20, 5, 10], "slow": [30, 60], "target_r": [1, 2.5]}
    plan = plan_hunt(HuntPayload(hypothesis="ma_cross", dataset="eurusd.csv", grid=grid), data_dir / "eurusd.csv")
    local = LocalEngine(workers=2).run(plan, 0.0001)
    done: list[int] = []

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = RayEngine(address=None).run(plan, 0.0001, lambda n, total: done.append(n))
    finally:
        ray.shutdown()

    assert remote == local
    assert [r.params for r in remote] == plan.variants and len(remote) == 12
    assert done[-1] == 12
