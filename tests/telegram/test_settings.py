"""Telegram's settings and secrets: the chat id joins the token as a secret; the allowed users default to no one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from mocks.fake_telegram import FakeTelegram
from seam.config import load_config
from seam.errors import ConfigError
from seam.monitor.telegram import BotApi, TelegramUnavailable
from tests.conftest import make_seam


def test_the_chat_id_is_a_secret_from_the_environment_and_no_one_is_allowed_by_default(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s")
    env = {
        "SEAM_TELEGRAM_CHAT_ID": "-1001234567890",
        "SEAM_TELEGRAM_TOKEN": "123:abcdefgh",
        "SEAM_TELEGRAM__ENABLED": "true",
    }
    config = load_config(paths, env=env)
    assert config.secrets.telegram_chat_id is not None
    assert config.secrets.telegram_chat_id.get_secret_value() == "-1001234567890"
    assert config.settings.telegram.enabled and config.settings.telegram.allowed_user_ids == []
    assert config.settings.telegram.base_url == "https://api.telegram.org"
    shown = {key: (value, source) for key, value, source in config.rows()}
    assert shown["secrets.telegram_chat_id"] == ("-1***90", "env (SEAM_TELEGRAM_CHAT_ID)")
    assert "1234567890" not in repr(config.secrets)


def test_the_chat_id_in_seam_yaml_is_refused(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s", "secrets:\n  telegram_chat_id: '1001'\n")
    with pytest.raises(ConfigError):
        load_config(paths, env={})


def test_a_refused_token_is_unavailable_and_names_the_variable(fake: FakeTelegram) -> None:
    api = BotApi(fake.base_url, SecretStr("1:wrong"), timeout=2)

    async def main() -> str:
        try:
            await api.call("getMe", {})
        except TelegramUnavailable as exc:
            return str(exc)
        finally:
            await api.aclose()
        return ""

    said = asyncio.run(main())
    assert "401" in said and "SEAM_TELEGRAM_TOKEN" in said and "wrong" not in said


def test_the_chat_id_is_masked_in_every_output_when_it_looks_like_a_real_one() -> None:
    from seam.config import Secrets
    from seam.logmask import SecretMask

    real = Secrets.model_validate({"telegram_token": "123456:abcdefgh", "telegram_chat_id": "-1001234567890"})
    mask = SecretMask(accounts=[], secrets=real.masked()).mask
    assert "-1001234567890" not in mask("sent to chat -1001234567890 with 123456:abcdefgh")
    assert "123456:abcdefgh" not in mask("token 123456:abcdefgh")
    # a short test chat id is not masked: it would also hide ordinary numbers such as 1001 in a price
    assert Secrets.model_validate({"telegram_chat_id": "1001"}).masked() == []
