"""The repository is read on its own: no project file points at a document or folder that
only the developers have (the design notes they started from live outside it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The developers' folder beside the repository, written so this file does not name it.
_BESIDE = "../" + "shared"
#: Names of documents that are not in this repository, and paths that leave it.
OUTSIDE = re.compile(re.escape(_BESIDE) + r"|\bDESIGN\.md\b|\bSTYLE\.md\b|\bLAB-NOTES(\.md)?\b")


def _project_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_finds_an_outside_reference() -> None:
    assert OUTSIDE.search(f"see {_BESIDE}/notes.txt")
    assert OUTSIDE.search("see DESIGN.md")
    assert OUTSIDE.search("(LAB-NOTES.md, Email)")
    assert not OUTSIDE.search("see docs/architecture.md")


def test_no_file_points_outside_the_repository() -> None:
    found = []
    for path in _project_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "files that point outside the repository:\n" + "\n".join(found)


def test_readme_links_the_architecture() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme
    assert (ROOT / "docs" / "architecture.md").is_file()
