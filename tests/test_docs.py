"""The README stays honest: every setting and command is documented."""

from __future__ import annotations

from pathlib import Path

from pod.cli import build_parser, command_parsers
from pod.config import setting_fields

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1]
    lines = [line for line in quick_start.splitlines() if line.startswith("make ")]
    assert [line.split()[1] for line in lines[:2]] == ["serve", "test"]


def test_every_setting_is_in_the_configuration_table() -> None:
    for f in setting_fields():
        row = f"| `{f.name}` | `KLUIS_{f.name.upper()}` / `--{f.name.replace('_', '-')}` |"
        assert row in README, f"README lacks a row for {f.name}"


def test_every_command_is_documented() -> None:
    for name in command_parsers(build_parser()):
        assert f"kluis {name}" in README
