"""The project's documentation is its own: every ``docs/NAME.md §N`` citation names a section that exists,
and nothing outside the tests refers to files outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"docs/(\w+)\.md((?:\s*§\s*\d+(?:\.\d+)*,?)+)")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".c", ".json", ""}


def tracked_text_files() -> list[Path]:
    """The repository's tracked text files (git ls-files; the working tree when git is unavailable)."""
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        paths = [ROOT / line for line in out.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if ".git" not in p.parts]
    return [p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES and p.stat().st_size < 2_000_000]


def headings(doc: Path) -> set[str]:
    """Section numbers of a doc's headings (``## 3. …``, ``### 3.4 …``)."""
    found = re.findall(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s", doc.read_text(), flags=re.MULTILINE)
    return set(found)


def test_every_docs_citation_names_an_existing_section() -> None:
    docs = {p.stem: headings(p) for p in (ROOT / "docs").glob("*.md")}
    assert {"environment", "design_space", "networks", "reproducing"} <= set(docs)
    broken = []
    for path in tracked_text_files():
        text = path.read_text(errors="replace")
        for match in CITATION.finditer(text):
            doc = match.group(1)
            for section in SECTION.findall(match.group(2)):
                if doc not in docs or section not in docs[doc]:
                    broken.append(f"{path.relative_to(ROOT)}: docs/{doc}.md §{section}")
    assert not broken, "citations of missing sections:\n" + "\n".join(sorted(set(broken)))


@pytest.mark.parametrize("pattern", [r"\b(?:ENV|MODELS|DESIGN_SPACE)\.md\b", r"\.\./shared\b", r"/work/"])
def test_nothing_outside_the_tests_points_outside_the_project(pattern: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in tracked_text_files()
        if "tests" not in path.relative_to(ROOT).parts and re.search(pattern, path.read_text(errors="replace"))
    ]
    assert not offenders, f"{pattern} found in: {', '.join(offenders)}"
