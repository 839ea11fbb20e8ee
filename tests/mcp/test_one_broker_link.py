"""With `seam watch` running in PAPER mode, `seam mcp` is only its client: it opens no second broker link. The
fake gateway counts its logins: one, the daemon's, however many broker tools the MCP server answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seam.mcp.host import DaemonRole
from tests.conftest import DaemonProcess, make_seam
from tests.gateway import GatewayThread, loopback
from tests.mcp.test_server import served, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_with_a_paper_daemon_running_the_mcp_server_opens_no_second_broker_link(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    with GatewayThread(loopback(), 4002, "DU123456") as gateway:
        env = {
            "SEAM_BROKER__MODE": "paper",
            "SEAM_BROKER__HOST": gateway.gateway.host,
            "SEAM_BROKER__RECONCILE_MINUTES": "600",
        }
        watch = DaemonProcess(paths, env=env)
        try:
            async with served(paths.root, env=env) as desk:
                assert desk.host.role is DaemonRole.CLIENT
                for n in range(3):
                    account = await desk.call("account", {"id": f"mcp-account-{n}"})
                    assert not account.is_error, text_of(account)
                    assert "DU1***56" in text_of(account) and "DU123456" not in text_of(account)
                positions = await desk.call("positions", {"id": "mcp-positions"})
                assert not positions.is_error, text_of(positions)
                facts = json.loads(await desk.read("seam://status"))
                assert facts["mcp_daemon"] == "client"
            assert gateway.gateway.logins == [gateway.gateway.logins[0]], gateway.gateway.logins  # one login
            assert gateway.gateway.connected_clients() == 1  # the daemon's, still open
        finally:
            watch.stop()
