"""`dmdesk chat` against the running stack, driven through its standard input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.stack import ROOT, StackConfig

pytestmark = pytest.mark.stack


def test_terminal_chat_talks_to_the_bot_and_lists_buttons(stack: StackConfig) -> None:
    env = {**os.environ, "DMDESK_API_TOKEN": stack.api_token}
    script = "halo kak\nam i talking to a bot?\n1\n/quit\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--url", stack.bot_url, "--sender", "clitest"],
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    out = done.stdout
    assert "bot> Halo! 👋 Aku asisten Kopiku." in out
    assert "[1] Talk to a person" in out
    # typing "1" taps the button: a person takes over
    assert "passing you to a person" in out or "passed your chat to our team" in out
