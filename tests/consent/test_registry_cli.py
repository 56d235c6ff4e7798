"""``samen consent set|show``: the operator records choices through the router, and they answer the closed question."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from samen.cli import main
from samen.consent import choices
from samen.node import Node
from samen.settings import Settings

BSN_A = "999911120"


def _set(db: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["consent", "set", "--db", db, "--bsn", BSN_A, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_set_records_versions_of_one_choice_and_show_lists_them(tmp_path: Path) -> None:
    db = str(tmp_path / "registry.db")
    first = _set(db, "--holder-category", "huisarts", "--decision", "yes")
    _set(db, "--holder-category", "huisarts", "--data-category", "medicatiegegevens", "--decision", "no")
    again = _set(db, "--holder-category", "huisarts", "--decision", "no")
    consent_id = first.split("Consent/")[1].split()[0]
    assert f"Consent/{consent_id} version 2: no for huisarts × * × *" in again
    shown = CliRunner().invoke(main, ["consent", "show", "--db", db, "--bsn", BSN_A])
    assert shown.exit_code == 0
    assert "no for huisarts × medicatiegegevens × *" in shown.output and f"Consent/{consent_id} v2 active" in shown.output
    node = Node.open(db, Settings(roles=("consent-registry",)))
    try:
        with node.store.session(write=False) as session:
            assert not choices.decide(session.conn, BSN_A, "huisarts", "behandelgegevens", "ggz").permit
    finally:
        node.close()


def test_bad_input_is_refused_and_records_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "registry.db")
    bad_bsn = CliRunner().invoke(main, ["consent", "set", "--db", db, "--bsn", "123456789", "--holder-category",
                                        "huisarts", "--decision", "yes"])
    assert bad_bsn.exit_code == 2 and "not a valid BSN" in bad_bsn.output
    bad_category = CliRunner().invoke(main, ["consent", "set", "--db", db, "--bsn", BSN_A, "--holder-category",
                                             "kapper", "--decision", "yes"])
    assert bad_category.exit_code == 2
    shown = CliRunner().invoke(main, ["consent", "show", "--db", db, "--bsn", BSN_A])
    assert "no choices recorded" in shown.output
