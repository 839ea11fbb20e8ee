"""Configuration: defaults < seam.yaml < environment (SEAM_SECTION__KEY) < command-line flags.

Every value remembers where it came from (`seam config show --sources`). Secrets (IB account,
Telegram token, MCP token) come only from the environment or the seam's `.env`, never from
seam.yaml, and are shown redacted. IBKR_ALLOW_LIVE counts only from the process environment: the
seam's files are the agent's to write, the environment of a start is the human's. Invalid
configuration raises ConfigError naming the key.

`capital_settings` names the settings that decide where orders go, for which account, how large and
who must approve them; a change to one between two starts is shown at start and beaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from seam.broker.guards import default_port, mask_accounts_in
from seam.broker.types import Mode
from seam.errors import ConfigError
from seam.intent import Kind, Pair
from seam.narrator.guard import DEFAULT_WORDS
from seam.paths import SeamPaths
from seam.problems import problems_from
from seam.yamlsafe import YamlProblem, decode_text, load_yaml

__all__ = [
    "CAPITAL_SECTIONS",
    "LoadedConfig",
    "Secrets",
    "Settings",
    "capital_changes",
    "capital_settings",
    "load_config",
    "render_commented_yaml",
]

ENV_PREFIX = "SEAM_"
# Environment variables that are not settings; everything else starting with SEAM_ must be one.
NON_SETTING_ENV = {"SEAM_ROOT", "SEAM_FAILPOINTS", "SEAM_CLOCK_START"}
SECRET_ENV = {
    "ib_account": "SEAM_IB_ACCOUNT",
    "telegram_token": "SEAM_TELEGRAM_TOKEN",
    "telegram_chat_id": "SEAM_TELEGRAM_CHAT_ID",
    "mcp_token": "SEAM_MCP_TOKEN",
}
ALLOW_LIVE_ENV = "IBKR_ALLOW_LIVE"
# The sections that move capital as a whole (size and risk caps, the pairs that may trade, the human gate);
# of the broker section only where orders go (mode, host, port); and the account, from the secrets.
CAPITAL_SECTIONS = ("risk", "pairs", "approval")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


class IntakeSettings(_Section):
    max_bytes: int = Field(
        262_144,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest intent file accepted, in bytes; checked before parsing.",
    )
    rescan_seconds: float = Field(
        2.0, gt=0, le=3600, description="Full rescan of incoming/ this often (events can be lost)."
    )
    settle_seconds: float = Field(
        1.0, ge=0, le=300, description="Where writers cannot be detected: unchanged this long = complete."
    )
    polling: bool = Field(False, description="Use the polling observer (network and synced folders).")
    polling_interval_seconds: float = Field(1.0, gt=0, le=60, description="Polling observer interval.")


class ValidationSettings(_Section):
    max_depth: int = Field(32, ge=2, le=256, description="Deepest YAML nesting accepted.")
    future_skew_seconds: int = Field(
        300, ge=0, le=86_400, description="created_at may be this far in the future (clock skew)."
    )


class HandlerSettings(_Section):
    concurrency: int = Field(8, ge=1, le=256, description="Intents handled at once (the halt lane is extra).")
    timeout_seconds: float = Field(30.0, gt=0, le=86_400, description="Default time limit per handler run.")
    # a hunt computes every variant of its grid: minutes, not seconds, for a large grid over a year of bars
    timeouts: dict[Kind, float] = Field(
        default_factory=lambda: {Kind.HUNT: 600.0}, description="Per-kind time limits in seconds, e.g. {hunt: 600}."
    )


class BeadSettings(_Section):
    synchronous: Literal["full", "normal"] = Field(
        "full", description="SQLite synchronous mode: full survives power loss; normal only process crashes."
    )


class BrokerSettings(_Section):
    mode: Literal["mock", "paper", "live"] = Field("mock", description="Chosen once at start; never hot-switched.")
    host: str = Field("127.0.0.1", description="IB Gateway host (paper/live).")
    port: int | None = Field(None, ge=1, le=65535, description="IB Gateway port; default 4002 paper, 4001 live.")
    client_id: int = Field(1, ge=0, le=999_999, description="IB API client id.")
    connect_timeout_seconds: float = Field(5.0, gt=0, le=120, description="Time limit of one connection attempt.")
    backoff_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 15.0, 45.0],
        min_length=1,
        max_length=10,
        description="Waits before each reconnect attempt; then escalate (RB-001).",
    )
    reconcile_minutes: float = Field(10.0, gt=0, le=1440, description="Reconcile with the broker this often.")
    stall_minutes: float = Field(
        5.0, gt=0, le=1440, description="A position the broker owes an update for this long is STALLED."
    )
    orders_per_second: float = Field(5.0, gt=0, le=45, description="Order pacing (IB allows 50 messages/s).")


class ApprovalSettings(_Section):
    code_ttl_seconds: int = Field(300, ge=30, le=3600, description="An approval code expires after this long.")
    max_tries: int = Field(3, ge=1, le=10, description="Wrong codes before a proposal locks.")
    wrong_codes_per_hour: int = Field(
        10, ge=1, le=1000, description="Wrong codes across all proposals within an hour before every approval locks."
    )
    stale_minutes: float = Field(
        15.0, gt=0, le=240, description="A proposal older than this is refused at approval (STATE_CONFLICT)."
    )
    strict: bool = Field(False, description="Codes go to Telegram only; the console never shows them.")
    # 15, like stale_minutes: a signal older than a proposal may live was read off a market that has moved on
    max_signal_age_minutes: float = Field(
        15.0, gt=0, le=1440, description="A READY signal whose created_at is older than this is refused."
    )


class RiskSettings(_Section):
    max_units_per_order: int = Field(200_000, ge=1000, le=10_000_000, description="Cap on one order's size.")
    max_total_open_risk_usd: float = Field(3000.0, gt=0, description="Cap on the summed stop-loss risk of open trades.")
    # the entry goes as a market order, so the stop distance the size was computed from is off by this distance;
    # 20 pips is two of the stale gate's 10-pip quote buckets and under the typical 25-30 pip stop of the setups
    max_entry_distance_pips: float = Field(
        20.0, gt=0, le=1000, description="A READY signal whose entry is further than this from the market is refused."
    )


class PairSettings(_Section):
    active: list[Pair] = Field(
        default_factory=lambda: [Pair.EURUSD],
        min_length=1,
        description="Pairs signals may trade (all six are capable).",
    )


class TelegramSettings(_Section):
    enabled: bool = Field(False, description="Alerts, proposals and commands over the Telegram Bot API.")
    base_url: str = Field(
        "https://api.telegram.org", min_length=1, description="Bot API base URL (tests point it at a local fake)."
    )
    # INV: deny by default: an empty list allows no one (the chat id, a secret, is checked as well)
    allowed_user_ids: list[int] = Field(
        default_factory=list, description="Telegram user ids whose commands and buttons count; empty allows no one."
    )
    poll_timeout_seconds: int = Field(30, ge=0, le=50, description="Long-poll wait of one getUpdates call, in seconds.")
    request_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Time limit of one Bot API call, beyond the long-poll wait."
    )
    retry_initial_seconds: float = Field(
        1.0, gt=0, le=600, description="First wait before a failed delivery is retried."
    )
    retry_max_seconds: float = Field(
        300.0, gt=0, le=3600, description="Cap of the doubling wait between delivery retries."
    )
    button_ttl_seconds: int = Field(
        300, ge=30, le=86_400, description="Approve / Reject buttons stop working after this long."
    )


class NarratorSettings(_Section):
    words: list[str] = Field(
        default_factory=lambda: list(DEFAULT_WORDS),
        min_length=1,
        max_length=500,
        description="Words seam's own responses never use (advisory, causal, ranking); whole words, any case.",
    )


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level on stderr.")


class MonitorSettings(_Section):
    interval_seconds: float = Field(30.0, ge=1, le=3600, description="The heartbeat's period.")
    jitter_seconds: float = Field(5.0, ge=0, le=600, description="Each beat comes up to this much early or late.")
    missed_beats: int = Field(3, ge=1, le=100, description="Beats missing before `seam heartbeat-check` says MISSED.")
    order_status_stale_minutes: float = Field(
        5.0, gt=0, le=1440, description="Working orders with no order-status update for this long: DEGRADED."
    )
    fills_stale_minutes: float = Field(
        10.0, gt=0, le=1440, description="Open positions with no fill for this long: WARNING."
    )
    market_data_stale_minutes: float = Field(
        5.0, gt=0, le=1440, description="No quote received for this long: DEGRADED."
    )
    reconcile_max_age_minutes: float = Field(
        10.0, gt=0, le=1440, description="The last reconciliation older than this: DEGRADED."
    )


class AlertSettings(_Section):
    bundle_minutes: float = Field(30.0, gt=0, le=1440, description="Alerts of one window are bundled into one.")
    max_per_minute: int = Field(10, ge=1, le=1000, description="Deliveries a minute at most (CRITICAL bypasses it).")


class ResearchSettings(_Section):
    data_folder: Path = Field(Path("data"), description="Datasets (CSV/Parquet bars); relative to the seam root.")
    engine: Literal["local", "ray"] = Field("local", description="Hunt variants run as local processes or Ray tasks.")
    ray_address: str | None = Field(None, description="ray.init(address=...) for engine ray; unset: a local Ray.")
    workers: int | None = Field(None, ge=1, le=1024, description="Local hunt worker processes; unset: the cores.")


class Settings(_Section):
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    handlers: HandlerSettings = Field(default_factory=HandlerSettings)
    beads: BeadSettings = Field(default_factory=BeadSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    pairs: PairSettings = Field(default_factory=PairSettings)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    narrator: NarratorSettings = Field(default_factory=NarratorSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    research: ResearchSettings = Field(default_factory=ResearchSettings)

    def timeout_for(self, kind: Kind) -> float:
        return self.handlers.timeouts.get(kind, self.handlers.timeout_seconds)


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True)

    ib_account: SecretStr | None = None
    telegram_token: SecretStr | None = None
    telegram_chat_id: SecretStr | None = None
    mcp_token: SecretStr | None = None
    allow_live: bool = False  # from the process environment only
    allow_live_in_dotenv: bool = False  # IBKR_ALLOW_LIVE=true in .env, which does not count: said in the refusal

    def masked(self) -> list[str]:
        """The values every output masks (the account has a mask of its own): the tokens, and the Telegram chat id
        when it is long enough not to be mistaken for an ordinary number (real ones have 9 digits or more)."""
        values = [s.get_secret_value() for s in (self.telegram_token, self.mcp_token) if s is not None]
        chat = self.telegram_chat_id.get_secret_value() if self.telegram_chat_id is not None else ""
        return values + ([chat] if len(chat.lstrip("-")) >= 6 else [])


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    secrets: Secrets
    sources: dict[str, str] = field(default_factory=dict)
    # what it was loaded from, so a reload reads the same layers: the environment (None: the process's) and flags
    env: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    cli: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    def source_of(self, key: str) -> str:
        """Where a setting's value came from: "file (seam.yaml)", "env (NAME)", ".env (NAME)", "flag", "default"."""
        return self.sources.get(key, "default")

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, shown value, source) for every setting and secret, secrets redacted."""
        rows = [
            (key, _show(value), self.sources.get(key, "default"))
            for key, value in _flatten(self.settings.model_dump(mode="json")).items()
        ]
        for name, env_name in SECRET_ENV.items():
            secret = getattr(self.secrets, name)
            source = self.sources.get(f"secrets.{name}", f"unset ({env_name})")
            rows.append((f"secrets.{name}", _redact(secret), source))
        rows.append(
            (
                "secrets.allow_live",
                str(self.secrets.allow_live).lower(),
                self.sources.get("secrets.allow_live", f"unset ({ALLOW_LIVE_ENV})"),
            )
        )
        return rows


def _show(value: Any) -> str:
    return "null" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))


def _redact(secret: SecretStr | None) -> str:
    if secret is None:
        return "(unset)"
    raw = secret.get_secret_value()
    return f"{raw[:2]}***{raw[-2:]}" if len(raw) >= 8 else "***"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted.count(".") == 0:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if not key:
        tree[section] = value
        return
    node = tree.setdefault(section, {})
    if not isinstance(node, dict):
        raise ConfigError(section, "must be a mapping of settings")
    node[key] = value


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; optional quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise ConfigError(f".env line {number}", "expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _file_values(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = load_yaml(decode_text(path.read_bytes()), max_depth=8)
    except YamlProblem as exc:
        if exc.path:  # e.g. a duplicate key: name the setting, like every other config error
            raise ConfigError(exc.path, f"{exc} [from file ({path.name})]") from None
        raise ConfigError(path.name, str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path.name, "the top level must be a mapping of sections")
    refusal = "secrets come only from the environment or .env, never seam.yaml"
    for section in list(data):
        if section in SECRET_ENV or section == "secrets":
            raise ConfigError(section, refusal)
        if data[section] is None:  # a section whose keys are all commented out
            data[section] = {}
        if isinstance(data[section], dict):
            for key in data[section]:
                if key in SECRET_ENV:
                    raise ConfigError(f"{section}.{key}", refusal)
    return _flatten(data)


def _env_values(env: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    values: dict[str, tuple[Any, str]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV or name in SECRET_ENV.values():
            continue
        section, sep, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if not sep or not key:
            raise ConfigError(name, "unknown setting; settings look like SEAM_SECTION__KEY (e.g. SEAM_BROKER__MODE)")
        try:
            value = load_yaml(raw, max_depth=4) if raw.strip() else raw
        except YamlProblem:
            value = raw
        values[f"{section}.{key}"] = (value, name)
    return values


def load_config(
    paths: SeamPaths, *, env: Mapping[str, str] | None = None, cli: Mapping[str, Any] | None = None
) -> LoadedConfig:
    """Merge the layers, validate, and return settings with the source of every value."""
    process_env = os.environ if env is None else env
    environ = dict(read_env_file(paths.env_file))
    # a value the process environment does not override came from .env; say so in --sources
    dotenv_only = {name for name in environ if name not in process_env}
    environ.update(process_env)
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for dotted, value in _file_values(paths.config_file).items():
        _set_dotted(tree, dotted, value)
        sources[dotted] = f"file ({paths.config_file.name})"
    for dotted, (value, name) in _env_values(environ).items():
        _set_dotted(tree, dotted, value)
        sources[dotted] = _env_source(name, dotenv_only)
    for dotted, value in (cli or {}).items():
        if value is not None:
            _set_dotted(tree, dotted, value)
            sources[dotted] = "flag"
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as exc:
        first = problems_from(exc, allowed=_allowed_fields(), data=tree)[0]
        origin = _origin(first.path, sources)
        where = f" [from {origin}]" if origin else ""
        key, _, message = str(first).partition(": ")
        raise ConfigError(key, f"{message}{where}") from None
    return LoadedConfig(settings, _secrets(environ, sources, dotenv_only), sources, env=env, cli=dict(cli or {}))


def _origin(path: str, sources: Mapping[str, str]) -> str | None:
    """The source of the value a problem is about: the key itself, the key above it, or one below it."""
    above = [k for k in sources if path == k or path.startswith((k + ".", k + "["))]
    if above:
        return sources[max(above, key=len)]
    below = sorted(k for k in sources if k.startswith(path + "."))
    return sources[below[0]] if below else None


def _env_source(name: str, dotenv_only: set[str]) -> str:
    return f".env ({name})" if name in dotenv_only else f"env ({name})"


def _secrets(environ: Mapping[str, str], sources: dict[str, str], dotenv_only: set[str]) -> Secrets:
    values: dict[str, Any] = {}
    for name, env_name in SECRET_ENV.items():
        if environ.get(env_name):
            values[name] = environ[env_name]
            sources[f"secrets.{name}"] = _env_source(env_name, dotenv_only)
    raw_live = environ.get(ALLOW_LIVE_ENV)
    if raw_live is not None and ALLOW_LIVE_ENV in dotenv_only:
        # INV: IBKR_ALLOW_LIVE never comes from a file in the seam (.env, like seam.yaml, is writable by the agent)
        values["allow_live_in_dotenv"] = raw_live.strip().lower() == "true"
        sources["secrets.allow_live"] = f".env ({ALLOW_LIVE_ENV}): ignored, it counts only from the process environment"
    elif raw_live is not None:
        if raw_live.strip().lower() not in ("true", "false", ""):
            raise ConfigError(ALLOW_LIVE_ENV, f"must be true or false (got {raw_live!r})")
        values["allow_live"] = raw_live.strip().lower() == "true"
        sources["secrets.allow_live"] = _env_source(ALLOW_LIVE_ENV, dotenv_only)
    return Secrets(**values)


def capital_settings(config: LoadedConfig) -> dict[str, str]:
    """The settings that move capital, as shown text (the account masked), keyed like `seam config show`."""
    broker = config.settings.broker
    shown = {
        "broker.mode": broker.mode,
        "broker.host": broker.host,
        # the port the daemon will use, so that a mode change that moves orders to another port says so
        "broker.port": _show(broker.port or default_port(Mode(broker.mode))),
    }
    for key, value in _flatten(config.settings.model_dump(mode="json")).items():
        if key.partition(".")[0] in CAPITAL_SECTIONS:
            shown[key] = ", ".join(map(str, value)) if isinstance(value, list) else _show(value)
    account = config.secrets.ib_account.get_secret_value() if config.secrets.ib_account else None
    shown["secrets.ib_account"] = "(unset)" if account is None else mask_accounts_in(account, [account])
    return shown


def capital_changes(before: Mapping[str, str], now: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """{key: {"from": old, "to": new}} for every capital setting that differs (a new key counts from "(none)")."""
    return {
        key: {"from": before.get(key, "(none)"), "to": value}
        for key, value in now.items()
        if before.get(key, "(none)") != value
    }


def _allowed_fields() -> dict[str, list[str]]:
    allowed: dict[str, list[str]] = {"": list(Settings.model_fields)}
    for name, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            allowed[name] = list(model.model_fields)
    return allowed


def render_commented_yaml() -> str:
    """The seam.yaml that `seam init` writes: every key, commented out at its default, with its meaning."""
    lines = [
        "# seam configuration.",
        "# Precedence: command-line flag > environment (SEAM_SECTION__KEY, e.g. SEAM_BROKER__MODE=paper)",
        "#             > this file > the defaults shown below (commented out).",
        "# Secrets (IB account, Telegram token, MCP token) never go here: set SEAM_IB_ACCOUNT,",
        "# SEAM_TELEGRAM_TOKEN, SEAM_TELEGRAM_CHAT_ID, SEAM_MCP_TOKEN in the environment or in .env beside this file.",
        "# `seam config show --sources` prints every value and where it came from.",
        "",
    ]
    defaults = Settings().model_dump(mode="json")
    for section, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines.append(f"{section}:")
        for key, field_info in model.model_fields.items():
            if field_info.description:
                lines.append(f"  # {field_info.description}")
            value = defaults[section][key]
            shown = "null" if value is None else (str(value).lower() if isinstance(value, bool) else value)
            if isinstance(value, list):
                shown = "[" + ", ".join(str(v) for v in value) + "]"
            elif isinstance(value, dict):
                shown = "{}" if not value else str(value)
            lines.append(f"  # {key}: {shown}")
        lines.append("")
    return "\n".join(lines)
