"""The docs that cannot be allowed to drift: the CLI page and the README's commands."""
import os
from pathlib import Path

from jetfm.cli.reference import cli_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_the_cli_page_is_what_the_parsers_say():
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page == cli_markdown(), \
        "docs/cli.md is stale: python -m jetfm.cli.reference > docs/cli.md"


def _fenced_commands(text: str) -> list[str]:
    lines, inside, out = text.splitlines(), False, []
    for line in lines:
        if line.startswith("```"):
            inside = not inside
        elif inside and line.startswith("python3 -m venv"):
            out.append(line.strip())
    return out


def test_ci_runs_the_readmes_test_command():
    readme = _fenced_commands((ROOT / "README.md").read_text())
    assert len(readme) >= 2, "the README opens with the install+run and install+test commands"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.startswith("python3 -m venv")]
    assert ci == [readme[1]], (ci, readme[1])


def test_tests_do_not_write_into_the_users_cache():
    from jetfm.cache import cache_dir
    home_cache = Path(os.path.expanduser("~")) / ".cache" / "jetfm"
    assert cache_dir() != home_cache and not cache_dir().is_relative_to(home_cache)


def test_help_shows_defaults_choices_and_required_options():
    from jetfm.cli import build_parser
    from jetfm.pretrain.registry import REGISTRY
    page = cli_markdown()
    pretrain = page[page.index("## `jetfm pretrain`"):page.index("## `jetfm evaluate`")]
    flat = " ".join(pretrain.split())
    assert all(name in flat for name in REGISTRY), "every registered strategy is listed"
    assert "run directory (re-running resumes it) (required)" in flat
    assert "optimizer steps (default 1000)" in flat
    build_parser()      # builds without formatting errors (a stray % in a help text)
    # a flag does not show its destination's default as its own
    quick = page[page.index("## `jetfm quickstart`"):]
    assert "default: quick" not in quick and "--fast" in quick
