"""docs/rules/*.md and the README's rule table are generated from the rule folders (auditor.report.rule_docs):
they must match what the folders give, and a removed folder must remove its page and its row."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO

from auditor.catalog import load_catalog
from auditor.report import rule_docs


def test_generated_rule_pages_and_readme_table_are_up_to_date() -> None:
    stale = rule_docs.stale_files(REPO)
    assert stale == [], f"run `make docs`: {[str(p.relative_to(REPO)) for p in stale]}"


def copy_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "rules", repo / "rules", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "docs", repo / "docs")
    shutil.copy(REPO / "README.md", repo / "README.md")
    return repo


def test_removing_a_folder_removes_its_page_and_row_once_regenerated(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path)
    shutil.rmtree(repo / "rules" / "NET007")
    load_catalog.cache_clear()
    try:
        assert repo / "docs" / "rules" / "NET007.md" in rule_docs.stale_files(repo)
        assert rule_docs.main(["--check", "--repo", str(repo)]) == 1
        rule_docs.write(repo)
        assert rule_docs.stale_files(repo) == []
    finally:
        load_catalog.cache_clear()
    assert not (repo / "docs" / "rules" / "NET007.md").exists()
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "NET007" not in readme.split("<!-- rules:begin")[1].split("<!-- rules:end -->")[0]
    assert "NET007" not in (repo / "docs" / "rules" / "README.md").read_text(encoding="utf-8")


def test_a_metadata_change_makes_the_page_stale(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path)
    meta = repo / "rules" / "AOAI001" / "rule.yaml"
    meta.write_text(
        meta.read_text(encoding="utf-8").replace("severity: high", "severity: low"), encoding="utf-8"
    )
    load_catalog.cache_clear()
    try:
        stale = rule_docs.stale_files(repo)
    finally:
        load_catalog.cache_clear()
    assert stale == [
        repo / "README.md",
        repo / "docs" / "rules" / "AOAI001.md",
        repo / "docs" / "rules" / "README.md",
    ]


def test_every_page_has_the_sections_a_reader_expects() -> None:
    for rule in load_catalog().values():
        page = (REPO / "docs" / "rules" / f"{rule.id}.md").read_text(encoding="utf-8")
        for section in ("## Synopsis", "## Description", "## Recommendation", "## Examples", "## Links"):
            assert section in page, (rule.id, section)
        assert f"rules/{rule.id}/fail/" in page and rule.references[0]["url"] in page
