"""The README stays honest: every setting and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from pod.app import create_app
from pod.cli import build_parser, command_parsers
from pod.config import Settings, setting_fields
from pod.http.keys import STORE

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


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


ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_the_readme_links_the_architecture_page() -> None:
    assert "(docs/architecture.md)" in README


def test_the_architecture_page_names_only_files_that_exist() -> None:
    named = set(re.findall(r"\b((?:pod|examples|tests)/[\w/.]*\w)", ARCHITECTURE.read_text()))
    assert "pod/ldp/rules.py" in named
    assert [name for name in named if not (ROOT / name).exists()] == []


def test_the_architecture_page_draws_the_store_stack_create_app_builds() -> None:
    page = ARCHITECTURE.read_text().split("## The store stack", 1)[1]
    drawing = page.split("```", 2)[1]
    drawn = re.findall(r"^  (\w+) ", drawing, re.MULTILINE)
    store: object = create_app(Settings(storage="memory"))[STORE]
    built = []
    while store is not None:  # the layers, then what the rules store through, to the backend
        built.append(type(store).__name__)
        store = getattr(store, "inner", None) or getattr(store, "backend", None)
    assert drawn == [*built[:-1], "Backend"]
