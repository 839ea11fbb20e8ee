"""The MCP server through the SDK's in-memory client: every tool and resource, on a real seam with a real daemon."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp_types import CallToolResult, TextContent

from seam.clock import FakeClock
from seam.config import load_config
from seam.intake import live_owners
from seam.intent import Kind
from seam.mcp.host import DaemonRole, SeamHost
from seam.mcp.server import build_server
from seam.mcp.tools import ToolAnswer, input_model, payload_members
from seam.paths import SeamPaths
from seam.schema import SCHEMA_DIR
from tests.conftest import READY_PAYLOAD, DaemonThread, make_seam

pytestmark = pytest.mark.anyio

READY = READY_PAYLOAD
READ_ONLY = {Kind.STATUS, Kind.ACCOUNT, Kind.POSITIONS, Kind.NARRATE, Kind.QUERY, Kind.HUNT, Kind.MEMORY}
CANARY = "canary-outside-the-seam"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Desk:
    """A seam served over MCP, with the human's console: the codes the daemon shows there."""

    paths: SeamPaths
    client: Client
    host: SeamHost
    shown: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # every text the server returned, to search for codes

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        result = await self.client.call_tool(name, arguments or {})
        self.seen.append(json.dumps(result.model_dump(mode="json")))
        return result

    async def read(self, uri: str) -> str:
        result = await self.client.read_resource(uri)
        [content] = result.contents
        text = getattr(content, "text", "")
        self.seen.append(text)
        return str(text)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


@asynccontextmanager
async def served(root: Path, *, env: dict[str, str] | None = None, run_daemon: bool = True) -> AsyncIterator[Desk]:
    paths = make_seam(root)
    config = load_config(paths, env=env or {})
    shown: dict[str, str] = {}
    channel = [lambda proposal, code, _at: shown.__setitem__(proposal.id, code)]
    # Wednesday 2026-11-18 09:00 UTC: the FX market is open
    async with SeamHost(paths, config, clock=FakeClock(), channels=channel, run_daemon=run_daemon) as host:
        async with Client(build_server(host)) as client:
            yield Desk(paths, client, host, shown)


# ---- tools: names, annotations, parameters ---------------------------------------------------------


async def test_every_kind_has_a_snake_case_tool_with_its_annotations(tmp_path: Path) -> None:
    async with served(tmp_path / "seam", run_daemon=False) as desk:
        tools = {tool.name: tool for tool in (await desk.client.list_tools()).tools}
    assert set(tools) == {kind.value for kind in Kind}
    for name, tool in tools.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and len(name) <= 64
        hints = tool.annotations
        assert hints is not None and tool.output_schema is not None
        assert hints.read_only_hint is (Kind(name) in READ_ONLY), name
    for name in ("approve", "close"):
        assert tools[name].annotations.destructive_hint is True  # type: ignore[union-attr]
    halt = tools["halt"].annotations
    assert halt is not None and halt.idempotent_hint is True and halt.read_only_hint is False
    approve = tools["approve"].description or ""
    assert "HUMAN" in approve and "Never invent" in approve and "ask for" in approve


def _resolved(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A property's schema with local $refs replaced by their definitions (all levels)."""
    text = json.dumps(schema)
    for _ in range(5):
        data = json.loads(text)
        if "$ref" not in text:
            return dict(data)

        def swap(node: Any) -> Any:
            if isinstance(node, dict):
                if "$ref" in node:
                    return defs[node["$ref"].rsplit("/", 1)[-1]]
                return {k: swap(v) for k, v in node.items()}
            if isinstance(node, list):
                return [swap(v) for v in node]
            return node

        text = json.dumps(swap(data))
    return dict(json.loads(text))


def _published_payloads(kind: Kind) -> list[dict[str, Any]]:
    """The payload schema(s) of a kind as published in seam/schemas/ (a union's members apart)."""
    doc = json.loads((SCHEMA_DIR / f"{kind.value}.schema.json").read_text(encoding="utf-8"))
    defs = doc.get("$defs", {})
    payload = _resolved(doc["properties"]["payload"], defs)
    members = payload.get("oneOf") or payload.get("anyOf") or [payload]
    return [_resolved(member, defs) for member in members]


async def test_tool_parameters_are_the_published_payload_schemas_plus_an_optional_id(tmp_path: Path) -> None:
    async with served(tmp_path / "seam", run_daemon=False) as desk:
        tools = {tool.name: tool for tool in (await desk.client.list_tools()).tools}
    for kind in Kind:
        schema = tools[kind.value].input_schema
        defs = schema.get("$defs", {})
        properties = {name: _resolved(prop, defs) for name, prop in schema["properties"].items()}
        assert "id" not in schema.get("required", []), kind
        properties.pop("id")
        published = _published_payloads(kind)
        assert len(published) == len(payload_members(kind)), kind
        assert set(properties) == {name for member in published for name in member.get("properties", {})}, kind
        required = set.intersection(*(set(member.get("required", [])) for member in published))
        assert set(schema.get("required", [])) == required, kind
        for name, prop in properties.items():
            candidates = [member["properties"][name] for member in published if name in member.get("properties", {})]
            if name == "signal" and kind is Kind.SIGNAL:  # the discriminator: every member's values
                values = {v for c in candidates for v in c.get("enum", [c.get("const")])}
                assert set(prop["enum"]) == values == {"READY", "FORMING", "NONE"}
                continue
            comparable = {k: v for k, v in prop.items() if k != "title"}
            assert comparable in [{k: v for k, v in c.items() if k != "title"} for c in candidates], (kind, name)
        assert input_model(kind).model_config.get("extra") == "forbid"


# ---- tools: answers through the seam ---------------------------------------------------------------


async def test_with_no_daemon_the_server_runs_one_that_answers_status_a_ready_signal_and_positions(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "seam") as desk:
        assert desk.host.role is DaemonRole.IN_PROCESS and len(live_owners(desk.paths.processing)) == 1
        status = await desk.call("status", {"id": "st-1"})
        assert not status.is_error and status.structured_content is not None
        answer = status.structured_content
        assert (answer["id"], answer["kind"], answer["status"], answer["succeeded"]) == ("st-1", "status", "ok", True)
        assert answer["response"] == "seam://responses/st-1" and answer["bead"] > 0
        file_text = (desk.paths.responses / "st-1.md").read_text(encoding="utf-8")
        assert text_of(status) in file_text and "# Status" in text_of(status)  # the response's markdown, as filed
        assert f"bead: {answer['bead']}" in file_text

        signal = await desk.call("signal", {"id": "sig-1", **READY})
        assert signal.structured_content is not None and not signal.is_error
        assert signal.structured_content["status"] == "pending_approval"
        assert signal.structured_content["proposal"] == "sig-1"
        for result in (status, signal):  # the structured answer is ToolAnswer's, field for field, as its schema says
            assert ToolAnswer.model_validate(result.structured_content).model_dump(mode="json") == (
                result.structured_content
            )
        positions = await desk.call("positions")
        assert not positions.is_error and positions.structured_content["status"] == "ok"  # type: ignore[index]
        account = await desk.call("account")
        assert not account.is_error
        assert [p.name for p in desk.paths.processed.iterdir()]  # filed like any dropped intent
    assert live_owners(desk.paths.processing) == []  # the daemon run here stopped with the server


async def test_the_same_id_gets_the_same_answer_and_an_absent_id_is_generated(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        first = await desk.call("status", {"id": "again"})
        second = await desk.call("status", {"id": "again"})
        assert first.structured_content and second.structured_content
        assert second.structured_content["replay_of"] == first.structured_content["bead"]
        fresh = await desk.call("status")
        assert fresh.structured_content and re.fullmatch(
            r"status-\d{8}T\d{6}-[0-9a-f]{6}", fresh.structured_content["id"]
        )
        halt = await desk.call("halt", {"id": "h-1", "reason": "test halt"})
        again = await desk.call("halt", {"id": "h-1", "reason": "test halt"})
        assert not halt.is_error and again.structured_content["replay_of"] == halt.structured_content["bead"]  # type: ignore[index]


async def test_a_wrong_field_is_a_tool_error_naming_it_and_nothing_is_written(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        bad = await desk.call("signal", {**READY, "confidence": 1.85, "stop": 1.0880, "colour": "red"})
        assert bad.is_error and bad.structured_content is None
        text = text_of(bad)
        assert "nothing was written" in text
        assert "- confidence: must be at most 1" in text and "colour" in text
        wrong_id = await desk.call("status", {"id": "../../etc/passwd"})
        assert wrong_id.is_error and "- id:" in text_of(wrong_id)
        assert list(desk.paths.incoming.iterdir()) == [] and list(desk.paths.responses.iterdir()) == []
        # clients that send a list as JSON text are understood; the seam still checks the values
        listed = await desk.call("query", {"dataset": "bars.csv", "aggregates": '[{"fn": "count"}]'})
        assert "aggregates" not in text_of(listed)


async def test_research_tools_answer_through_the_seam_and_a_rejection_reaches_the_model_as_an_error(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "seam") as desk:
        for name, arguments in {"narrate": {"template": "briefing"}, "memory": {"question": "heartbeat_gaps"}}.items():
            result = await desk.call(name, arguments)
            assert not result.is_error and result.structured_content is not None, name
            assert result.structured_content["status"] == "ok", name
        for name, arguments in {
            "query": {"dataset": "bars.csv", "aggregates": [{"fn": "count"}]},
            "hunt": {"hypothesis": "ma_cross", "dataset": "bars.csv", "grid": {"fast": [5], "slow": [20]}},
        }.items():
            result = await desk.call(name, arguments)  # no such dataset in the seam's data folder
            assert result.is_error and result.structured_content is not None, name
            assert result.structured_content["status"] == "rejected", name
            assert "bars.csv" in text_of(result), name


async def test_approval_needs_the_human_code_and_no_output_ever_carries_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with served(tmp_path / "seam") as desk:
        await desk.call("signal", {"id": "sig-2", **READY})
        code = desk.shown["sig-2"]
        pending = json.loads(await desk.read("seam://proposals/pending"))
        assert [p["id"] for p in pending["pending"]] == ["sig-2"] and pending["pending"][0]["evidence"]
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        refused = await desk.call("approve", {"id": "ap-1", "proposal": "sig-2", "code": wrong})
        assert refused.is_error and refused.structured_content["status"] != "ok"  # type: ignore[index]
        missing = await desk.call("approve", {"id": "ap-2", "proposal": "sig-2"})
        assert missing.is_error and "- code: is required" in text_of(missing)
        approved = await desk.call("approve", {"id": "ap-3", "proposal": "sig-2", "code": code})
        assert not approved.is_error, text_of(approved)
        assert approved.structured_content["status"] == "ok"  # type: ignore[index]
        await desk.read("seam://responses/ap-3")
        await desk.read("seam://status")
        for prompt in ("briefing",):
            desk.seen.append(json.dumps((await desk.client.get_prompt(prompt)).model_dump(mode="json")))
        desk.seen.append(json.dumps((await desk.client.get_prompt("why_rejected", {"id": "ap-1"})).model_dump()))
    for text in desk.seen:
        assert code not in text and wrong not in text
    assert code not in caplog.text


async def test_outputs_never_carry_the_configured_secrets(tmp_path: Path) -> None:
    token, telegram = "mcp-token-0123456789abcdef", "123456:telegram-secret-token"
    env = {"SEAM_MCP_TOKEN": token, "SEAM_TELEGRAM_TOKEN": telegram}
    async with served(tmp_path / "seam", env=env) as desk:
        halt = await desk.call("halt", {"id": "leaky", "reason": f"pasted {token} and {telegram}"})
        texts = [json.dumps(halt.model_dump(mode="json")), await desk.read("seam://responses/leaky")]
        texts.append(json.dumps((await desk.client.get_prompt("why_rejected", {"id": "leaky"})).model_dump()))
    for text in texts:
        assert token not in text and telegram not in text
    assert "***" in texts[0]


# ---- resources and prompts ------------------------------------------------------------------------


async def test_resources_serve_responses_schemas_status_runbooks_and_pending(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        listed = {str(r.uri) for r in (await desk.client.list_resources()).resources}
        assert listed == {"seam://status", "seam://proposals/pending"}
        templates = {t.uri_template for t in (await desk.client.list_resource_templates()).resource_templates}
        assert templates == {"seam://responses/{id}", "seam://schemas/{kind}", "seam://runbooks/{id}"}

        await desk.call("status", {"id": "st-r"})
        assert await desk.read("seam://responses/st-r") == (desk.paths.responses / "st-r.md").read_text("utf-8")
        for name in [*(kind.value for kind in Kind), "envelope"]:
            published = (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
            assert await desk.read(f"seam://schemas/{name}") == published
        status = json.loads(await desk.read("seam://status"))
        assert status["mcp_daemon"] == "in-process" and "runs the seam's daemon itself" in status["mcp"]
        assert status["mode"] == "MOCK" and status["daemons"] == 1
        assert json.loads(await desk.read("seam://proposals/pending")) == {"pending": [], "count": 0}
        assert "# RB-004 — Emergency halt" in await desk.read("seam://runbooks/RB-004")
        for uri, words in (
            ("seam://runbooks/RB-099", "no runbook RB-099 yet"),
            ("seam://responses/never-sent", "no response never-sent yet"),
            ("seam://schemas/nonsense", "no schema 'nonsense'"),
        ):
            with pytest.raises(MCPError) as raised:
                await desk.client.read_resource(uri)
            assert words in str(raised.value), uri


TRAVERSALS = [
    "..",
    "../seam.yaml",
    "..%2Fseam.yaml",
    "%2e%2e%2fseam.yaml",
    "%2E%2E",
    "%252e%252e%252fseam.yaml",
    "..%5cseam.yaml",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "C:%5Cwindows",
    "....%2F%2Fseam.yaml",
    "ok%00.md",
    "st-t%2F..%2F..%2Fseam.yaml",
    "evil",  # a symlink in responses/ that points outside
]


async def test_no_resource_or_prompt_reads_outside_the_seam(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text(f"---\nid: evil\nkind: status\nstatus: ok\nbead: 1\nat: '2026-11-18T09:00:00'\n---\n{CANARY}\n")
    async with served(tmp_path / "seam") as desk:
        desk.paths.config_file.write_text(f"# {CANARY}\n", encoding="utf-8")
        (desk.paths.responses / "evil.md").symlink_to(outside)
        await desk.call("status", {"id": "st-t"})
        for template in ("responses", "schemas", "runbooks"):
            for name in TRAVERSALS:
                uri = f"seam://{template}/{name}"
                with pytest.raises(MCPError) as raised:
                    await desk.client.read_resource(uri)
                assert CANARY not in str(raised.value) and "root:" not in str(raised.value), uri
        for name in TRAVERSALS:
            prompt = await desk.client.get_prompt("why_rejected", {"id": name})
            assert CANARY not in json.dumps(prompt.model_dump(mode="json")), name
        outcome = await desk.call("cancel", {"id": "../escape", "order_id": "../../x"})
        assert outcome.is_error and "- id:" in text_of(outcome) and "- order_id:" in text_of(outcome)
    assert not (tmp_path / "escape.md").exists() and not list(tmp_path.glob("*escape*"))


async def test_prompts_brief_turn_a_setup_into_a_signal_and_explain_a_rejection(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        names = {p.name for p in (await desk.client.list_prompts()).prompts}
        assert names == {"briefing", "signal_from_setup", "why_rejected"}
        briefing = (await desk.client.get_prompt("briefing")).messages[0].content
        assert isinstance(briefing, TextContent) and "`status`" in briefing.text and "recommend" in briefing.text
        setup = "EURUSD long from the 1.0850 FVG, stop 1.0820, target 1.0910"
        signal = (await desk.client.get_prompt("signal_from_setup", {"setup": setup})).messages[0].content
        assert isinstance(signal, TextContent) and setup in signal.text and "never" in signal.text
        # a rejection by the daemon (the stop on the wrong side is a semantic check), then the prompt about it
        (desk.paths.incoming / "bad.yaml").write_text(
            "seam: 1\nid: bad-1\nkind: signal\npayload: {signal: READY, pair: EURUSD, direction: LONG, "
            "confidence: 0.8, entry: 1.0850, stop: 1.0880, target: 1.0910, setup_type: FVG_ENTRY}\n"
        )
        response = None
        for _ in range(200):
            if (desk.paths.responses / "bad-1.md").exists():
                response = (desk.paths.responses / "bad-1.md").read_text("utf-8")
                break
            await anyio.sleep(0.02)
        assert response is not None and "rejected" in response
        why = (await desk.client.get_prompt("why_rejected", {"id": "bad-1"})).messages[0].content
        assert isinstance(why, TextContent) and response in why.text


# ---- in-process daemon vs client ------------------------------------------------------------------


async def test_with_a_daemon_running_the_server_is_only_its_client(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    with DaemonThread(paths, clock=FakeClock()) as watch:
        owner = watch.daemon.claimant.owner
        async with served(paths.root) as desk:
            assert desk.host.role is DaemonRole.CLIENT
            assert live_owners(paths.processing) == [owner]  # no second daemon, so no second broker link
            assert "client of the daemon already running" in (desk.client.instructions or "")
            status = await desk.call("status", {"id": "via-watch"})
            assert not status.is_error
            facts = json.loads(await desk.read("seam://status"))
            assert facts["mcp_daemon"] == "client" and owner in facts["mcp"]
        assert live_owners(paths.processing) == [owner]  # the server left the running daemon alone
