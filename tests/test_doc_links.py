"""The READMEs and docs/ link only to files of the repository: a reader of a copy (an sdist, an
offline clone, a package index page) must never land outside it or on a missing file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

REPO = Path(__file__).resolve().parents[1]
# GitHub's flavour: bare URLs and www. names become links too.
_MARKDOWN = MarkdownIt("gfm-like")


def documents() -> list[Path]:
    """Every Markdown file of the repository (not of its tools' caches, build or venv)."""
    return sorted(
        path
        for path in REPO.rglob("*.md")
        if not any(
            p.startswith(".") or p in ("build", "dist") for p in path.relative_to(REPO).parts
        )
    )


def _targets(tokens: Sequence[Token]) -> Iterator[str]:
    for token in tokens:
        if token.type in ("link_open", "image"):
            yield str(token.attrGet("href") or token.attrGet("src") or "")
        if token.children:
            yield from _targets(token.children)


def bad_links(document: Path, text: str) -> list[str]:
    """Each link of ``text`` (the content of ``document``) that leaves the repository or names
    a file that does not exist, with the reason."""
    problems = []
    for target in _targets(_MARKDOWN.parse(text)):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or target.startswith("/"):
            problems.append(f"{target}: outside the repository")
            continue
        if not parts.path:
            continue  # a heading of the same page
        path = (document.parent / parts.path).resolve()
        if not path.is_relative_to(REPO):
            problems.append(f"{target}: outside the repository")
        elif not path.exists():
            problems.append(f"{target}: no such file")
    return problems


def test_documents_link_only_inside_the_repository() -> None:
    assert {REPO / "README.md", REPO / "docs" / "configuration.md"} <= set(documents())
    problems = {
        str(document.relative_to(REPO)): bad_links(document, document.read_text(encoding="utf-8"))
        for document in documents()
    }
    assert {name: found for name, found in problems.items() if found} == {}


def test_every_kind_of_outside_link_is_found() -> None:
    text = (
        "[site](https://example.org/x) www.example.net <mailto:a@example.org> "
        "[up](../outside.md) [gone](docs/none.md) [root](/etc/passwd) "
        "[fine](LICENSE) [here](#use-it) `https://in-code.example.org`\n\n"
        "```sh\ncurl https://in-a-block.example.org\n```\n"
    )
    assert bad_links(REPO / "README.md", text) == [
        "https://example.org/x: outside the repository",
        "http://www.example.net: outside the repository",
        "mailto:a@example.org: outside the repository",
        "../outside.md: outside the repository",
        "docs/none.md: no such file",
        "/etc/passwd: outside the repository",
    ]
