"""Page / Instagram account configuration: token sources, secrecy, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.meta.pages import PageConfigError, Pages, UnknownAccountError
from bot.settings import ROOT


def test_the_demo_configuration_has_one_page_and_one_instagram_account() -> None:
    pages = Pages.load(ROOT / "config" / "meta_pages.yml")
    assert len(pages) == 2
    assert pages.get("100000000000001").channel.value == "messenger"
    assert pages.get("17800000000000001").channel.value == "instagram"


def test_tokens_come_from_the_environment_or_a_file_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ig.token").write_text("ig-secret-from-file\n")
    (tmp_path / "pages.yml").write_text(
        "accounts:\n"
        "- {id: '1', channel: messenger, brand: A, token_env: PAGE_ONE_TOKEN, token: placeholder}\n"
        "- {id: '2', channel: instagram, brand: B, token_file: ig.token}\n"
    )
    monkeypatch.setenv("PAGE_ONE_TOKEN", "env-secret")
    pages = Pages.load(tmp_path / "pages.yml")
    assert pages.get("1").token.get_secret_value() == "env-secret"
    assert pages.get("2").token.get_secret_value() == "ig-secret-from-file"
    assert "secret" not in repr(pages.get("1")) + str(pages.get("2"))
    with pytest.raises(UnknownAccountError):
        pages.get("3")


@pytest.mark.parametrize(
    "content",
    [
        "accounts:\n- {id: '1', channel: messenger}\n",  # no token source
        "accounts:\n- {id: 'abc', channel: messenger, token: x}\n",  # not an id
        "accounts:\n- {id: '1', channel: whatsapp, token: x}\n",
        "accounts: [\n",
    ],
)
def test_invalid_configurations_are_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "pages.yml").write_text(content)
    with pytest.raises(PageConfigError):
        Pages.load(tmp_path / "pages.yml")
