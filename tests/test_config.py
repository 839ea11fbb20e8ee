"""Configuration: default < seam.yaml < environment < flag, every value's source shown, secrets redacted."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.config import (
    BrokerSettings,
    Settings,
    capital_changes,
    capital_settings,
    load_config,
    render_commented_yaml,
)
from seam.errors import ConfigError
from seam.paths import SeamPaths
from tests.conftest import make_seam, seam_cli, seam_in_process

SECRET = "7731:AAF-do-not-print-me"
BROKER_KEYS = ", ".join(sorted(BrokerSettings.model_fields))


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outer environment must not leak settings or secrets into these tests (or their child processes)."""
    for name in list(os.environ):
        if name.startswith("SEAM_") or name == "IBKR_ALLOW_LIVE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables in the child processes: no wrapping


@pytest.fixture(autouse=True)
def _only_the_environment_each_test_sets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _clean_environment(monkeypatch)
    yield


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """`seam config show --sources` on a seam with values in every layer, and secrets in the environment and .env."""
    seam = make_seam(tmp_path_factory.mktemp("show") / "seam")
    seam.config_file.write_text("handlers:\n  concurrency: 4\nbroker:\n  client_id: 7\nlog:\n  level: WARNING\n")
    seam.env_file.write_text('SEAM_IB_ACCOUNT=DU7654321\nexport SEAM_MCP_TOKEN="mcp-token-from-dotenv"\n')
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clean_environment(monkeypatch)
        return seam_cli(
            "config",
            "show",
            "--sources",
            "--seam",
            str(seam.root),
            env={
                "SEAM_BROKER__CLIENT_ID": "9",
                "SEAM_LOG__LEVEL": "DEBUG",
                "SEAM_TELEGRAM_TOKEN": SECRET,
                "IBKR_ALLOW_LIVE": "false",
            },
        )


@pytest.fixture
def seam(tmp_path: Path) -> SeamPaths:
    return make_seam(tmp_path / "seam")


def config_table(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, ...]]:
    """`seam config show` output: key → (value[, source])."""
    assert result.returncode == 0, result.stderr
    rows: dict[str, tuple[str, ...]] = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0] != "key":
            rows[cells[0]] = tuple(cells[1:])
    return rows


# ---- precedence ---------------------------------------------------------------------------------


def test_config_show_sources_names_the_layer_each_value_came_from(
    shown: subprocess.CompletedProcess[str],
) -> None:
    rows = config_table(shown)

    assert rows["intake.max_bytes"] == ("262144", "default")
    assert rows["broker.mode"] == ("mock", "default")
    assert rows["handlers.concurrency"] == ("4", "file (seam.yaml)")
    assert rows["broker.client_id"] == ("9", "env (SEAM_BROKER__CLIENT_ID)")
    assert rows["log.level"] == ("DEBUG", "env (SEAM_LOG__LEVEL)")


@pytest.mark.parametrize(
    ("in_file", "in_dotenv", "in_env", "flag", "value", "source"),
    [
        pytest.param(False, False, False, False, 8, "default", id="default"),
        pytest.param(True, False, False, False, 4, "file (seam.yaml)", id="file-beats-default"),
        pytest.param(True, True, False, False, 6, ".env (SEAM_HANDLERS__CONCURRENCY)", id="dotenv-beats-file"),
        pytest.param(True, True, True, False, 5, "env (SEAM_HANDLERS__CONCURRENCY)", id="env-beats-dotenv"),
        pytest.param(True, True, True, True, 3, "flag", id="flag-beats-everything"),
        pytest.param(False, False, True, True, 3, "flag", id="flag-beats-env"),
    ],
)
def test_each_layer_overrides_the_ones_below_it(
    seam: SeamPaths, in_file: bool, in_dotenv: bool, in_env: bool, flag: bool, value: int, source: str
) -> None:
    if in_file:
        seam.config_file.write_text("handlers:\n  concurrency: 4\n")
    if in_dotenv:
        seam.env_file.write_text("# local overrides\nSEAM_HANDLERS__CONCURRENCY=6\n")
    config = load_config(
        seam,
        env={"SEAM_HANDLERS__CONCURRENCY": "5"} if in_env else {},
        cli={"handlers.concurrency": 3 if flag else None},
    )

    assert config.settings.handlers.concurrency == value
    assert ("handlers.concurrency", str(value), source) in config.rows()


def test_a_command_line_flag_to_watch_beats_the_environment_and_the_file(seam: SeamPaths) -> None:
    seam.config_file.write_text("handlers:\n  concurrency: 4\n")

    result = seam_cli(
        "watch", "--once", "--concurrency", "3", "--seam", str(seam.root), env={"SEAM_HANDLERS__CONCURRENCY": "5"}
    )

    assert result.returncode == 0, result.stderr
    assert re.search(r"watching .* concurrency 3\)", result.stderr), result.stderr


def test_environment_values_are_read_as_yaml_scalars_and_lists(seam: SeamPaths) -> None:
    config = load_config(
        seam,
        env={
            "SEAM_PAIRS__ACTIVE": "[EURUSD, GBPUSD]",
            "SEAM_INTAKE__POLLING": "true",
            "SEAM_BROKER__HOST": "10.0.0.2",
            "SEAM_HANDLERS__TIMEOUTS": "{hunt: 600}",
        },
    )
    assert [str(p) for p in config.settings.pairs.active] == ["EURUSD", "GBPUSD"]
    assert config.settings.intake.polling is True
    assert config.settings.broker.host == "10.0.0.2"
    assert config.settings.timeout_for("hunt") == 600  # type: ignore[arg-type]


# ---- invalid configuration stops the daemon with one clear message ---------------------------------


@pytest.mark.parametrize(
    ("seam_yaml", "env", "key", "reason"),
    [
        pytest.param(
            "broker:\n  colour: blue\n",
            {},
            "broker.colour",
            f"is not an allowed field here (allowed: {BROKER_KEYS})",
            id="unknown-key",
        ),
        pytest.param(
            "intake:\n  max_bytes: lots\n",
            {},
            "intake.max_bytes",
            "must be a whole number (got text 'lots')",
            id="wrong-type",
        ),
        pytest.param(
            "broker:\n  mode: demo\n",
            {},
            "broker.mode",
            "must be one of 'mock', 'paper' or 'live' (got 'demo')",
            id="bad-enum",
        ),
        pytest.param(
            f"telegram_token: {SECRET}\n",
            {},
            "telegram_token",
            "secrets come only from the environment or .env, never seam.yaml",
            id="secret-in-seam-yaml",
        ),
        pytest.param(
            "",
            {"SEAM_VERBOSE": "1"},
            "SEAM_VERBOSE",
            "unknown setting; settings look like SEAM_SECTION__KEY (e.g. SEAM_BROKER__MODE)",
            id="unknown-seam-variable",
        ),
        pytest.param(
            "broker:\n  mode: [paper\n",
            {},
            "seam.yaml",
            "YAML syntax error: did not find expected ',' or ']' (line 3, column 1)",
            id="malformed-seam-yaml",
        ),
    ],
)
def test_invalid_configuration_stops_watch_with_one_message_naming_the_key(
    seam: SeamPaths, seam_yaml: str, env: dict[str, str], key: str, reason: str
) -> None:
    seam.config_file.write_text(seam_yaml)

    # The case with a secret starts `seam watch` as a child process: its exit code, and every line the process
    # writes (a library's too) kept free of the secret. The others run the same command through seam.cli.main.
    if key == "telegram_token":
        result = seam_cli("watch", "--seam", str(seam.root), env=env, timeout=30)
    else:
        result = seam_in_process("watch", "--seam", str(seam.root), env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"seam: configuration error: {key}: {reason}")
    assert SECRET not in result.stderr


@pytest.mark.parametrize(
    ("seam_yaml", "env", "key", "reason"),
    [
        pytest.param(
            "broker:\n  colour: blue\n",
            {},
            "broker.colour",
            f"is not an allowed field here (allowed: {BROKER_KEYS}) [from file (seam.yaml)]",
            id="unknown-key",
        ),
        pytest.param(
            f"broker:\n  ib_account: {SECRET}\n",
            {},
            "broker.ib_account",
            "secrets come only from the environment or .env, never seam.yaml",
            id="secret-in-a-section",
        ),
        pytest.param(
            "",
            {"SEAM_BROKER__COLOUR": "blue"},
            "broker.colour",
            f"is not an allowed field here (allowed: {BROKER_KEYS}) [from env (SEAM_BROKER__COLOUR)]",
            id="unknown-setting-in-env",
        ),
        pytest.param(
            "",
            {"SEAM_HANDLERS__CONCURRENCY": "many"},
            "handlers.concurrency",
            "must be a whole number (got text 'many') [from env (SEAM_HANDLERS__CONCURRENCY)]",
            id="wrong-type-in-env",
        ),
        pytest.param(
            "pairs:\n  active: [EURUSD, BTCUSD]\n", {}, "pairs.active[1]", "(got 'BTCUSD') [from file", id="list-item"
        ),
        pytest.param(
            "handlers:\n  timeouts: {launch: 5}\n",
            {},
            "handlers.timeouts.launch",
            "must be one of 'status'",
            id="dict-key",
        ),
        pytest.param(
            "broker:\n  mode: paper\n  mode: live\n",
            {},
            "broker.mode",
            "duplicate key 'mode': each key may appear only once (line 3) [from file (seam.yaml)]",
            id="duplicate-key",
        ),
        pytest.param("secrets:\n  mcp_token: x\n", {}, "secrets", "never seam.yaml", id="secrets-section"),
        pytest.param(
            "broker: paper\n",
            {},
            "broker",
            "must be a mapping (key: value lines) (got text 'paper')",
            id="section-not-a-mapping",
        ),
        pytest.param("- broker\n", {}, "seam.yaml", "the top level must be a mapping of sections", id="top-level-list"),
        pytest.param("", {"SEAM_NOPE__X": "1"}, "nope", "[from env (SEAM_NOPE__X)]", id="unknown-section-in-env"),
        pytest.param(
            "", {"SEAM_HANDLERS__CONCURRENCY": "0"}, "handlers.concurrency", "must be at least 1", id="out-of-range"
        ),
        pytest.param(
            "",
            {"IBKR_ALLOW_LIVE": "yes"},
            "IBKR_ALLOW_LIVE",
            "must be true or false (got 'yes')",
            id="allow-live-not-a-boolean",
        ),
    ],
)
def test_invalid_configuration_names_the_key_and_the_reason(
    seam: SeamPaths, seam_yaml: str, env: dict[str, str], key: str, reason: str
) -> None:
    seam.config_file.write_text(seam_yaml)
    with pytest.raises(ConfigError) as caught:
        load_config(seam, env=env)
    assert caught.value.key == key
    assert reason in caught.value.message


# ---- secrets --------------------------------------------------------------------------------------


def test_secrets_from_the_environment_and_dotenv_are_shown_redacted(shown: subprocess.CompletedProcess[str]) -> None:
    rows = config_table(shown)

    for secret in (SECRET, "DU7654321", "mcp-token-from-dotenv"):
        assert secret not in shown.stdout + shown.stderr
    assert rows["secrets.telegram_token"][1] == "env (SEAM_TELEGRAM_TOKEN)"
    assert rows["secrets.ib_account"][1] == ".env (SEAM_IB_ACCOUNT)"
    assert rows["secrets.mcp_token"][1] == ".env (SEAM_MCP_TOKEN)"
    assert all("***" in rows[f"secrets.{name}"][0] for name in ("telegram_token", "ib_account", "mcp_token"))
    assert rows["secrets.allow_live"] == ("false", "env (IBKR_ALLOW_LIVE)")


def test_a_short_secret_is_redacted_completely(seam: SeamPaths) -> None:
    config = load_config(seam, env={"SEAM_MCP_TOKEN": "abc12"})
    assert ("secrets.mcp_token", "***", "env (SEAM_MCP_TOKEN)") in config.rows()


def test_the_environment_beats_dotenv_for_a_secret_and_the_value_stays_hidden(seam: SeamPaths) -> None:
    seam.env_file.write_text("SEAM_MCP_TOKEN=from-dotenv-0000\n")
    config = load_config(seam, env={"SEAM_MCP_TOKEN": "from-environment-1111"})
    assert config.secrets.mcp_token is not None
    assert config.secrets.mcp_token.get_secret_value() == "from-environment-1111"
    assert "from-environment-1111" not in repr(config) + str(config.rows())


# ---- IBKR_ALLOW_LIVE: the process environment of the start, never a file in the seam -----------------


def test_allow_live_in_dotenv_does_not_count_and_says_so(seam: SeamPaths) -> None:
    seam.env_file.write_text("IBKR_ALLOW_LIVE=true\n")

    config = load_config(seam, env={})

    assert config.secrets.allow_live is False
    assert config.secrets.allow_live_in_dotenv is True
    value, source = next((v, s) for k, v, s in config.rows() if k == "secrets.allow_live")
    assert value == "false"
    assert source.startswith(".env (IBKR_ALLOW_LIVE): ignored")


def test_allow_live_counts_from_the_process_environment_even_when_dotenv_says_otherwise(seam: SeamPaths) -> None:
    seam.env_file.write_text("IBKR_ALLOW_LIVE=false\n")

    config = load_config(seam, env={"IBKR_ALLOW_LIVE": "true"})

    assert config.secrets.allow_live is True
    assert ("secrets.allow_live", "true", "env (IBKR_ALLOW_LIVE)") in config.rows()


@pytest.mark.parametrize(
    ("seam_yaml", "key"),
    [
        pytest.param("IBKR_ALLOW_LIVE: true\n", "IBKR_ALLOW_LIVE", id="top-level"),
        pytest.param("broker:\n  allow_live: true\n", "broker.allow_live", id="in-broker"),
        pytest.param("secrets:\n  allow_live: true\n", "secrets", id="in-secrets"),
    ],
)
def test_seam_yaml_cannot_allow_live(seam: SeamPaths, seam_yaml: str, key: str) -> None:
    seam.config_file.write_text(seam_yaml)
    with pytest.raises(ConfigError) as caught:
        load_config(seam, env={})
    assert caught.value.key == key


# ---- capital settings: what a change between two starts is shown for ---------------------------------


def test_capital_settings_name_where_orders_go_the_account_masked_the_caps_pairs_and_the_human_gate(
    seam: SeamPaths,
) -> None:
    seam.config_file.write_text("broker:\n  mode: paper\n")
    config = load_config(seam, env={"SEAM_IB_ACCOUNT": "DU7654321"})

    capital = capital_settings(config)

    assert capital["broker.mode"] == "paper" and capital["broker.port"] == "4002"
    assert capital["secrets.ib_account"] == "DU7****21"
    assert capital["pairs.active"] == "EURUSD"
    assert {"risk.max_units_per_order", "risk.max_total_open_risk_usd", "approval.strict"} <= set(capital)
    assert not [key for key in capital if key.startswith(("handlers.", "intake.", "log."))]
    assert "DU7654321" not in str(capital)


def test_capital_changes_lists_each_changed_key_from_old_to_new() -> None:
    before = {"broker.mode": "paper", "risk.max_units_per_order": "200000"}
    now = {"broker.mode": "live", "risk.max_units_per_order": "200000", "pairs.active": "EURUSD"}
    assert capital_changes(before, now) == {
        "broker.mode": {"from": "paper", "to": "live"},
        "pairs.active": {"from": "(none)", "to": "EURUSD"},
    }


# ---- seam init --------------------------------------------------------------------------------------


def test_seam_init_writes_a_commented_seam_yaml_that_loads_to_exactly_the_defaults(tmp_path: Path) -> None:
    root = tmp_path / "desk"

    result = seam_cli("init", str(root))

    assert result.returncode == 0, result.stderr
    text = (root / "seam.yaml").read_text(encoding="utf-8")
    assert text == render_commented_yaml()
    active = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert all(re.fullmatch(r"[a-z]+:", line) for line in active), active  # section headers only
    config = load_config(SeamPaths.at(root), env={})
    assert config.settings == Settings()
    assert config.sources == {}


def test_every_default_written_by_init_is_the_real_default(seam: SeamPaths) -> None:
    # uncomment every `  # key: value` line: the file must then set each key to its default
    lines = render_commented_yaml().splitlines()
    settings_lines = [re.sub(r"^  # ([a-z_]+: )", r"  \1", line) for line in lines]
    seam.config_file.write_text("\n".join(settings_lines) + "\n")

    config = load_config(seam, env={})

    assert config.settings == Settings()
    flat_keys = {key for key, _value, _source in config.rows() if not key.startswith("secrets.")}
    assert set(config.sources) == flat_keys
    assert set(config.sources.values()) == {"file (seam.yaml)"}
