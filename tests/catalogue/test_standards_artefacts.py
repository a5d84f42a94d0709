"""The official artefacts behind the conformance tests: documented, pinned, and never silently
missing on CI."""

import pytest

from tests.catalogue import shapes
from tests.standards import ARTEFACTS, DOC, REPOSITORY, require_artefacts


def test_every_artefact_is_documented_with_its_checksum():
    doc = (REPOSITORY / DOC).read_text()

    for name, digest in ARTEFACTS.items():
        assert f"`{name}`" in doc, name
        assert digest in doc, name


def test_the_readme_points_newcomers_to_the_artefacts():
    readme = (REPOSITORY / "README.md").read_text()

    assert "SHARED_DATA_DIR" in readme and DOC in readme


def test_the_placed_artefacts_are_the_pinned_versions():
    paths = require_artefacts(*ARTEFACTS, purpose="the check of the placed artefacts")

    assert all(path.is_file() for path in paths)


def test_a_missing_artefact_fails_the_test_on_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_artefacts("duo/duo.owl", purpose="the DUO hierarchy check")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        shapes.require_shapes()


def test_a_missing_artefact_skips_the_test_elsewhere_and_says_where_to_look(monkeypatch, tmp_path):
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match=DOC):
        require_artefacts("duo/duo.owl", purpose="the DUO hierarchy check")


def test_another_version_of_an_artefact_fails_the_test(monkeypatch, tmp_path):
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    (tmp_path / "duo").mkdir()
    (tmp_path / "duo" / "duo.owl").write_text("<rdf:RDF/>")

    with pytest.raises(pytest.fail.Exception, match="not the version"):
        require_artefacts("duo/duo.owl", purpose="the DUO hierarchy check")


@pytest.mark.parametrize("level", list(shapes.LEVEL_FILES))
def test_the_official_shapes_load_with_their_one_pathless_constraint_lifted(level):
    from rdflib import Graph

    raw = Graph()
    for path in shapes._files(level):
        raw.parse(path, format="turtle")

    assert shapes._lift_pathless_constraints(raw) == 1
    assert shapes._lift_pathless_constraints(shapes.shapes(level)) == 0


def test_a_copy_with_other_line_endings_is_the_same_version(monkeypatch, tmp_path):
    (official,) = require_artefacts("duo/duo.owl", purpose="the DUO hierarchy check")
    (tmp_path / "duo").mkdir()
    copy = tmp_path / "duo" / "duo.owl"
    copy.write_bytes(b"\xef\xbb\xbf" + official.read_bytes().replace(b"\n", b"\r\n"))
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))

    assert require_artefacts("duo/duo.owl", purpose="the DUO hierarchy check") == [copy]
