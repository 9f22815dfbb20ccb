"""`python -m standin` by hand: documented options, one line for a busy port, the sample's world."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from standin.__main__ import main as emulator_main
from standin.config import EmulatorConfig
from standin.sample import main as sample_main


def options(help_text: str) -> dict[str, str]:
    """Option → its help text, from argparse's layout."""
    found: dict[str, str] = {}
    current = ""
    for line in help_text[help_text.index("options:") :].splitlines()[1:]:
        if not line.strip():
            break
        match = re.match(r"  (-\S+)", line)
        if match:
            current = match.group(1).rstrip(",")
            found[current] = line
        else:
            found[current] += " " + line.strip()
    return found


def test_help_gives_every_option_a_meaning_and_a_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        emulator_main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    found = options(text)
    assert len(found) >= 17
    for option, line in found.items():
        if option not in ("-h", "--print-env"):
            assert "(default" in line, line
    config = EmulatorConfig()
    assert config.client_id in found["--client-id"] and config.client_secret in " ".join(text.split())
    assert "(default 7, the sample's default)" in found["--seed"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "standin", "--port", str(port), "--tracks", "20", "--artists", "5"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"python -m standin: error: cannot listen on 127.0.0.1:{port}: ")


@pytest.fixture
def emulator_on_port() -> Iterator[int]:
    """The emulator as a user starts it: all defaults but the port (8080 may be taken on a test machine)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "standin", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"emulator listening on http://127.0.0.1:{port}"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_readme_recipe_default_sample_and_emulator_fill_images(
    cli, emulator_on_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sample, emulator and .env with their defaults describe one world: the run fills images, finds them."""
    assert sample_main([str(tmp_path / "sample.duckdb")]) == 0
    assert emulator_main(["--print-env", "--port", str(emulator_on_port)]) == 0
    (tmp_path / ".env").write_text(capsys.readouterr().out)  # the tests run in tmp_path, where .env is read
    result = cli("run", "--db", tmp_path / "sample.duckdb", "--rate", "1000", "--json")
    assert result.code == 0, result.err
    tracks, artists = result.json["tracks"], result.json["artists"]
    assert tracks["updated"] > 0.8 * tracks["pending"]
    assert tracks["not_found"] < 0.05 * tracks["pending"]
    assert artists["updated"] > 0.8 * artists["pending"]


def test_print_env_needs_a_fixed_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert emulator_main(["--print-env", "--port", "0"]) == 2
    assert "fixed --port" in capsys.readouterr().err
