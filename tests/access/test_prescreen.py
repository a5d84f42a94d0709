"""Pre-screening of an application's use against a dataset's DUO data-use conditions.

Pure functions: no database. One test per rule, the overall aggregation, a table of realistic
cases, and a check of the hand-written DUO hierarchy against the ontology file.
"""

from pathlib import Path

import pytest

from access.prescreen import Finding, Request, Verdict, screen
from catalogue import duo, purposes
from tests.standards import require_artefacts

NRES, GRU, HMB, DS, POA = (
    "DUO:0000004",
    "DUO:0000042",
    "DUO:0000006",
    "DUO:0000007",
    "DUO:0000011",
)
RS, NMDS, GSO, NPUNCU, PUB, COL, IRB, GS = (
    "DUO:0000012",
    "DUO:0000015",
    "DUO:0000016",
    "DUO:0000018",
    "DUO:0000019",
    "DUO:0000020",
    "DUO:0000021",
    "DUO:0000022",
)
MOR, TS, US, PS, IS, RTN, CC, NPOA, NPU, NCU = (
    "DUO:0000024",
    "DUO:0000025",
    "DUO:0000026",
    "DUO:0000027",
    "DUO:0000028",
    "DUO:0000029",
    "DUO:0000043",
    "DUO:0000044",
    "DUO:0000045",
    "DUO:0000046",
)
C, N, J = "compatible", "incompatible", "needs_judgement"
NON_RESEARCH = ["public_health", "policy", "statistics", "education", "improving_care"]


def ask(
    purpose="research",
    codes=(HMB,),
    *,
    commercial=False,
    diseases=(),
    ethics=False,
    country="",
    institution="",
):
    return Request(
        purpose=purpose,
        duo_codes=frozenset(codes),
        commercial=commercial,
        disease_codes=frozenset(diseases),
        has_ethics_approval=ethics,
        applicant_country=country,
        institution=institution,
    )


def finding(verdict: Verdict, code: str) -> Finding:
    (found,) = [f for f in verdict.findings if f.code == code]
    return found


def check(verdict: Verdict, code: str, outcome: str, shorthand: str) -> Finding:
    """The finding for ``code`` has ``outcome`` and its rule names the code's shorthand."""
    found = finding(verdict, code)
    assert found.outcome == outcome, found.rule
    assert found.rule.startswith(f"{shorthand} ("), found.rule
    return found


# -- no conditions ----------------------------------------------------------------------------


def test_it_needs_judgement_when_the_dataset_records_no_duo_code():
    verdict = screen(ask(), [])

    assert verdict.outcome == J
    (only,) = verdict.findings
    assert only.outcome == J
    assert "no data-use conditions recorded" in only.rule.lower()


def test_it_needs_judgement_when_the_dataset_records_modifiers_but_no_permission():
    verdict = screen(ask(), [NCU])

    assert verdict.outcome == J
    found = finding(verdict, "DUO:0000001")
    assert found.outcome == J
    assert "no DUO permission" in found.rule
    check(verdict, NCU, C, "NCU")


# -- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", [*NON_RESEARCH, "research_ai", ""])
def test_it_allows_any_use_under_nres(purpose):
    verdict = screen(ask(purpose, (POA,), commercial=True), [NRES])

    assert verdict.outcome == C
    check(verdict, NRES, C, "NRES")


def test_it_allows_research_with_no_declared_permission_under_gru():
    verdict = screen(ask("research", ()), [GRU])

    assert verdict.outcome == C
    assert "any research" in check(verdict, GRU, C, "GRU").rule


@pytest.mark.parametrize("use", [GRU, HMB, DS])
def test_it_allows_gru_and_narrower_uses_under_gru(use):
    verdict = screen(ask("research", (use,), diseases=["breast cancer"]), [GRU])

    assert verdict.outcome == C
    check(verdict, GRU, C, "GRU")


def test_it_allows_population_origins_research_under_gru_as_its_definition_says():
    verdict = screen(ask("research", (POA,)), [GRU])

    assert verdict.outcome == C
    assert "POA is GRU or narrower" in check(verdict, GRU, C, "GRU").rule


def test_it_needs_judgement_when_an_application_calls_its_use_nres():
    verdict = screen(ask("research", (NRES,)), [GRU])

    assert verdict.outcome == J
    assert "broader than GRU" in check(verdict, GRU, J, "GRU").rule


@pytest.mark.parametrize("use", [HMB, DS])
def test_it_allows_hmb_and_narrower_uses_under_hmb(use):
    verdict = screen(ask("research", (use,), diseases=["lung cancer"]), [HMB])

    assert verdict.outcome == C
    check(verdict, HMB, C, "HMB")


def test_it_needs_judgement_for_a_general_research_use_against_hmb():
    verdict = screen(ask("research", (GRU,)), [HMB])

    assert verdict.outcome == J
    assert "GRU is broader than HMB" in check(verdict, HMB, J, "HMB").rule


def test_it_rejects_population_origins_research_under_hmb():
    verdict = screen(ask("research", (POA,)), [HMB])

    assert verdict.outcome == N
    assert "HMB excludes the declared use POA" in check(verdict, HMB, N, "HMB").rule


def test_it_needs_judgement_when_no_permission_is_declared_against_hmb():
    verdict = screen(ask("research", (NCU,)), [HMB])

    assert verdict.outcome == J
    assert "declares no DUO permission" in check(verdict, HMB, J, "HMB").rule


def test_it_reads_the_most_specific_declared_use():
    # {HMB, DS} is disease-specific health research: read as DS, which matches.
    request = ask("research", (HMB, DS), diseases=["breast cancer"])
    verdict = screen(request, [DS], ["breast cancer"])

    assert verdict.outcome == C
    check(verdict, DS, C, "DS")


def test_it_requires_every_declared_use_to_be_allowed():
    verdict = screen(ask("research", (HMB, POA)), [HMB])

    assert verdict.outcome == N
    check(verdict, HMB, N, "HMB")


@pytest.mark.parametrize("permission", [GRU, HMB, DS])
@pytest.mark.parametrize("purpose", NON_RESEARCH)
def test_it_needs_judgement_for_a_non_research_purpose_under_a_research_permission(
    permission, purpose
):
    verdict = screen(
        ask(purpose, (DS,), diseases=["breast cancer"]), [permission], ["breast cancer"]
    )

    assert verdict.outcome == J
    shorthand = duo.KNOWN[permission].shorthand
    rule = check(verdict, permission, J, shorthand).rule
    assert "is not research" in rule
    assert purposes.FINDING_NAMES[purpose] in rule


@pytest.mark.parametrize("permission", [GRU, HMB])
def test_it_allows_improving_care_when_the_dataset_records_clinical_care(permission):
    verdict = screen(ask("improving_care", ()), [permission, CC])

    assert verdict.outcome == C
    shorthand = duo.KNOWN[permission].shorthand
    assert "CC allows" in check(verdict, permission, C, shorthand).rule


def test_it_needs_judgement_when_the_purpose_is_missing():
    verdict = screen(ask("", (HMB,)), [HMB])

    assert verdict.outcome == J
    assert "no EHDS Art 53(1) purpose" in check(verdict, HMB, J, "HMB").rule


# -- disease specific -------------------------------------------------------------------------


def test_it_allows_ds_research_on_the_datasets_disease_ignoring_case_and_spacing():
    verdict = screen(ask("research", (DS,), diseases=["Breast  Cancer"]), [DS], ["breast cancer"])

    assert verdict.outcome == C
    assert '"breast cancer" are among' in check(verdict, DS, C, "DS").rule


def test_it_allows_ds_research_when_disease_codes_are_equal():
    verdict = screen(ask("research", (DS,), diseases=["mondo:0007254"]), [DS], ["MONDO:0007254"])

    assert verdict.outcome == C
    check(verdict, DS, C, "DS")


def test_it_rejects_ds_research_on_a_clearly_different_disease():
    verdict = screen(ask("research", (DS,), diseases=["breast cancer"]), [DS], ["lung cancer"])

    assert verdict.outcome == N
    assert "not among" in check(verdict, DS, N, "DS").rule


@pytest.mark.parametrize(
    "disease",
    [
        "breast carcinoma",  # a synonym: shares "breast"
        "triple-negative breast cancer",  # a subtype: contains the condition
        "cancer",  # broader than the condition
        "MONDO:0007254",  # a code against a name: needs a disease ontology
    ],
)
def test_it_needs_judgement_when_the_disease_cannot_be_decided_by_name(disease):
    verdict = screen(ask("research", (DS,), diseases=[disease]), [DS], ["breast cancer"])

    assert verdict.outcome == J
    assert "possibly the same as or a subtype" in check(verdict, DS, J, "DS").rule


def test_it_needs_judgement_when_only_some_studied_diseases_match():
    verdict = screen(
        ask("research", (DS,), diseases=["breast cancer", "lung cancer"]), [DS], ["breast cancer"]
    )

    assert verdict.outcome == J
    assert '"lung cancer" not among them' in check(verdict, DS, J, "DS").rule


def test_it_needs_judgement_when_the_application_names_no_disease():
    verdict = screen(ask("research", (DS,)), [DS], ["breast cancer"])

    assert verdict.outcome == J
    assert "names no disease" in check(verdict, DS, J, "DS").rule


def test_it_needs_judgement_when_the_ds_dataset_names_no_disease():
    verdict = screen(ask("research", (DS,), diseases=["breast cancer"]), [DS], [])

    assert verdict.outcome == J
    assert "dataset names no disease" in check(verdict, DS, J, "DS").rule


@pytest.mark.parametrize("use", [HMB, GRU])
def test_it_needs_judgement_for_a_broader_use_against_ds(use):
    verdict = screen(ask("research", (use,), diseases=["breast cancer"]), [DS], ["breast cancer"])

    assert verdict.outcome == J
    assert "broader than DS" in check(verdict, DS, J, "DS").rule


def test_it_rejects_a_broader_use_against_ds_when_the_disease_clearly_differs():
    verdict = screen(ask("research", (HMB,), diseases=["lung cancer"]), [DS], ["breast cancer"])

    assert verdict.outcome == N
    check(verdict, DS, N, "DS")


def test_it_rejects_population_origins_research_under_ds():
    verdict = screen(ask("research", (POA,), diseases=["breast cancer"]), [DS], ["breast cancer"])

    assert verdict.outcome == N
    assert "DS excludes the declared use POA" in check(verdict, DS, N, "DS").rule


# -- population origins or ancestry -----------------------------------------------------------


def test_it_allows_population_origins_research_under_poa():
    verdict = screen(ask("research", (POA,)), [POA])

    assert verdict.outcome == C
    check(verdict, POA, C, "POA")


def test_it_needs_judgement_for_general_research_under_poa():
    verdict = screen(ask("research", (GRU,)), [POA])

    assert verdict.outcome == J
    assert "broader than POA" in check(verdict, POA, J, "POA").rule


@pytest.mark.parametrize("codes", [(HMB,), (DS,), ()])
def test_it_rejects_other_research_under_poa(codes):
    verdict = screen(ask("research", codes, diseases=["breast cancer"]), [POA])

    assert verdict.outcome == N
    assert "only population origins" in check(verdict, POA, N, "POA").rule


def test_it_leaves_disagreeing_permissions_on_one_dataset_to_the_committee():
    verdict = screen(ask("research", (POA,)), [GRU, HMB])

    assert verdict.outcome == J
    check(verdict, GRU, C, "GRU")
    assert "several permissions (GRU, HMB)" in check(verdict, HMB, J, "HMB").rule


# -- modifiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "shorthand"), [(NCU, "NCU"), (NPUNCU, "NPUNCU")])
def test_it_rejects_commercial_use_under_non_commercial_conditions(code, shorthand):
    verdict = screen(ask("research_ai", commercial=True), [HMB, code])

    assert verdict.outcome == N
    assert "commercial use" in check(verdict, code, N, shorthand).rule


@pytest.mark.parametrize(("code", "shorthand"), [(NCU, "NCU"), (NPUNCU, "NPUNCU")])
def test_it_allows_non_commercial_use_under_non_commercial_conditions(code, shorthand):
    verdict = screen(ask("research"), [HMB, code])

    assert verdict.outcome == C
    check(verdict, code, C, shorthand)


def test_it_needs_judgement_for_commercial_use_under_npu_as_the_organisation_type_is_unknown():
    verdict = screen(ask(commercial=True, institution="Acme Imaging AI"), [HMB, NPU])

    assert verdict.outcome == J
    assert "'Acme Imaging AI' is a not-for-profit" in check(verdict, NPU, J, "NPU").rule


def test_it_allows_non_commercial_use_under_npu():
    verdict = screen(ask(), [HMB, NPU])

    assert verdict.outcome == C
    check(verdict, NPU, C, "NPU")


def test_it_allows_irb_when_an_ethics_approval_is_attached():
    verdict = screen(ask(ethics=True), [HMB, IRB])

    assert verdict.outcome == C
    check(verdict, IRB, C, "IRB")


def test_it_needs_judgement_for_irb_without_an_ethics_approval():
    verdict = screen(ask(ethics=False), [HMB, IRB])

    assert verdict.outcome == J
    assert "no ethics approval" in check(verdict, IRB, J, "IRB").rule


def test_it_rejects_imaging_research_under_gso():
    verdict = screen(ask("research", (HMB,)), [HMB, GSO])

    assert verdict.outcome == N
    assert "only for genetic studies" in check(verdict, GSO, N, "GSO").rule


def test_it_allows_a_declared_genetic_study_under_gso():
    verdict = screen(ask("research", (HMB, GSO)), [HMB, GSO])

    assert verdict.outcome == C
    check(verdict, GSO, C, "GSO")


@pytest.mark.parametrize("purpose", ["research_ai", "research_innovation"])
def test_it_rejects_methods_development_under_nmds(purpose):
    verdict = screen(ask(purpose), [HMB, NMDS])

    assert verdict.outcome == N
    assert "NMDS forbids" in check(verdict, NMDS, N, "NMDS").rule


@pytest.mark.parametrize("purpose", ["research", *NON_RESEARCH])
def test_it_allows_other_purposes_under_nmds(purpose):
    verdict = screen(ask(purpose), [NRES, NMDS])

    assert verdict.outcome == C
    check(verdict, NMDS, C, "NMDS")


def test_it_needs_judgement_for_disease_specific_methods_work_under_ds_and_nmds():
    verdict = screen(
        ask("research_ai", (DS,), diseases=["breast cancer"]), [DS, NMDS], ["breast cancer"]
    )

    assert verdict.outcome == J
    assert "general methods research" in check(verdict, NMDS, J, "NMDS").rule


def test_it_needs_judgement_for_nmds_without_a_purpose():
    verdict = screen(ask(""), [NRES, NMDS])

    assert verdict.outcome == J
    check(verdict, NMDS, J, "NMDS")


def test_it_rejects_population_origins_research_under_npoa():
    verdict = screen(ask("research", (POA,)), [GRU, NPOA])

    assert verdict.outcome == N
    check(verdict, GRU, C, "GRU")
    check(verdict, NPOA, N, "NPOA")


def test_it_allows_other_research_under_npoa():
    verdict = screen(ask("research", (HMB,)), [GRU, NPOA])

    assert verdict.outcome == C
    check(verdict, NPOA, C, "NPOA")


@pytest.mark.parametrize("purpose", ["improving_care", "research"])
def test_it_treats_clinical_care_as_adding_use_not_restricting_it(purpose):
    verdict = screen(ask(purpose), [NRES, CC])

    assert verdict.outcome == C
    check(verdict, CC, C, "CC")


@pytest.mark.parametrize(
    ("code", "shorthand", "words"),
    [
        (PUB, "PUB", "made available to the wider scientific community"),
        (COL, "COL", "collaborate with the dataset's primary investigator"),
        (RTN, "RTN", "returned to the resource"),
        (MOR, "MOR", "moratorium date"),
        (TS, "TS", "limited number of months"),
        (US, "US", "users the data holder approved"),
        (PS, "PS", "the approved project"),
        (IS, "IS", "approved institution"),
        (GS, "GS", "geographic region"),
        (RS, "RS", "certain type of research"),
    ],
)
def test_it_turns_holder_requirements_into_permit_conditions(code, shorthand, words):
    verdict = screen(ask(), [HMB, code])

    assert verdict.outcome == J
    rule = check(verdict, code, J, shorthand).rule
    assert words in rule
    assert "permit" in rule


def test_it_names_the_institution_and_country_to_check():
    verdict = screen(ask(country="PT", institution="Champalimaud Foundation"), [HMB, IS, GS])

    assert "'Champalimaud Foundation'" in finding(verdict, IS).rule
    assert "(PT)" in finding(verdict, GS).rule


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("DUO:0000005", "not a DUO term the pre-screening knows"),  # obsolete GRU-CC
        ("DUO:9999999", "not a DUO term the pre-screening knows"),
        ("EUCAIM:REMOTE", "not a DUO term the pre-screening knows"),
        ("DUO:0000017", "a DUO category, not a condition"),
    ],
)
def test_it_needs_judgement_for_unknown_codes(code, words):
    verdict = screen(ask(), [HMB, code])

    assert verdict.outcome == J
    found = finding(verdict, code)
    assert found.outcome == J
    assert code in found.rule
    assert words in found.rule


def test_it_reads_codes_written_as_iris_or_with_an_underscore():
    verdict = screen(
        ask(commercial=True), ["http://purl.obolibrary.org/obo/DUO_0000006", "DUO_0000046"]
    )

    assert verdict.outcome == N
    check(verdict, HMB, C, "HMB")
    check(verdict, NCU, N, "NCU")


# -- aggregation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset_codes", "expected"),
    [
        ([HMB, PUB], J),  # compatible + needs_judgement
        ([HMB, PUB, NCU], N),  # + incompatible
        ([HMB, NPU], C),  # all compatible
    ],
)
def test_it_takes_the_worst_finding_as_the_overall_outcome(dataset_codes, expected):
    verdict = screen(ask("research", (HMB,), commercial=expected == N), dataset_codes)

    assert verdict.outcome == expected
    assert [f.code for f in verdict.findings] == dataset_codes
    severity = {C: 0, J: 1, N: 2}
    assert verdict.outcome == max((f.outcome for f in verdict.findings), key=severity.get)


def test_it_gives_one_finding_per_code_in_a_stable_order_for_sets():
    verdict = screen(ask(), {NCU, HMB, PUB, HMB})

    assert [f.code for f in verdict.findings] == [HMB, PUB, NCU]


# -- realistic cases --------------------------------------------------------------------------

CASES = [
    # (description, request, dataset codes, dataset conditions, outcome)
    (
        "commercial AI developer vs NCU dataset",
        ask("research_ai", (HMB,), commercial=True, institution="Acme Imaging AI"),
        [GRU, NCU],
        ["lung cancer"],
        N,
    ),
    ("academic HMB request vs GRU dataset", ask("research", (HMB,)), [GRU], ["lung cancer"], C),
    ("POA request vs HMB dataset", ask("research", (POA,)), [HMB], ["prostate cancer"], N),
    (
        "DS breast cancer vs DS breast cancer dataset",
        ask("research", (DS,), diseases=["breast cancer"]),
        [DS],
        ["breast cancer"],
        C,
    ),
    (
        "DS breast cancer vs DS lung cancer dataset",
        ask("research", (DS,), diseases=["breast cancer"]),
        [DS],
        ["lung cancer"],
        N,
    ),
    (
        "academic AI team, ethics approved, vs HMB+NCU+IRB",
        ask("research_ai", (HMB,), ethics=True),
        [HMB, NCU, IRB],
        ["prostate cancer"],
        C,
    ),
    (
        "academic AI team vs a dataset forbidding methods development",
        ask("research_ai", (HMB,)),
        [HMB, NMDS],
        ["breast cancer"],
        N,
    ),
    (
        "start-up, non-commercial validation study, vs NPU dataset",
        ask("research", (HMB,), institution="Start-up GmbH"),
        [HMB, NPU],
        ["lung cancer"],
        C,
    ),
    (
        "hospital improving care vs GRU+CC dataset",
        ask("improving_care", ()),
        [GRU, CC],
        ["colorectal cancer"],
        C,
    ),
    (
        "ministry policy analysis vs HMB dataset",
        ask("policy", (HMB,)),
        [HMB],
        ["breast cancer"],
        J,
    ),
    (
        "teaching radiology residents vs an unrestricted dataset",
        ask("education", ()),
        [NRES],
        ["lung cancer"],
        C,
    ),
    (
        "HMB request vs GRU+PUB+COL dataset (permit conditions)",
        ask("research", (HMB,)),
        [GRU, PUB, COL],
        ["prostate cancer"],
        J,
    ),
    (
        "imaging radiomics vs genetic-studies-only dataset",
        ask("research", (HMB,)),
        [GRU, GSO],
        ["glioma"],
        N,
    ),
    (
        "DS NSCLC vs DS lung cancer dataset (subtype, by name)",
        ask("research", (DS,), diseases=["non-small cell lung cancer"]),
        [DS],
        ["lung cancer"],
        J,
    ),
    (
        "dataset with no DUO codes",
        ask("research", (HMB,)),
        [],
        ["breast cancer"],
        J,
    ),
]


@pytest.mark.parametrize(
    ("request_", "dataset_codes", "conditions", "outcome"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_it_screens_realistic_cases(request_, dataset_codes, conditions, outcome):
    verdict = screen(request_, dataset_codes, conditions)

    assert verdict.outcome == outcome, verdict.findings
    for f in verdict.findings:
        assert f.outcome in (C, N, J)
        assert f.rule


# -- the hand-written hierarchy against the ontology ------------------------------------------


def _duo_owl() -> Path:
    (path,) = require_artefacts("duo/duo.owl", purpose="the DUO hierarchy check")
    return path


def _ontology() -> dict[str, dict]:
    """DUO term → {"parents", "shorthand", "label", "obsolete"}, read from duo.owl.

    Terms are keyed by their oboInOwl:id, not their IRI: in the 2021-02-23 release NPOA's IRI
    is DUO_00000044 (one zero too many) while its id is DUO:0000044.
    """
    from rdflib import Graph, Namespace, URIRef
    from rdflib.namespace import OWL, RDF, RDFS

    oio = Namespace("http://www.geneontology.org/formats/oboInOwl#")
    graph = Graph()
    graph.parse(_duo_owl(), format="xml")
    ids = {
        s: str(o)
        for s, o in graph.subject_objects(oio.id)
        if isinstance(s, URIRef) and str(o).startswith("DUO:")
    }
    terms = {}
    for iri, code in ids.items():
        if (iri, RDF.type, OWL.Class) not in graph:
            continue
        parents = set(graph.objects(iri, RDFS.subClassOf))
        terms[code] = {
            "parents": tuple(sorted(ids[p] for p in parents if p in ids)),
            "shorthand": str(graph.value(iri, oio.shorthand) or ""),
            "label": str(graph.value(iri, RDFS.label) or ""),
            "obsolete": oio.ObsoleteClass in parents
            or str(graph.value(iri, OWL.deprecated)).lower() == "true",
        }
    return terms


def _under(terms: dict[str, dict], code: str, roots: set[str]) -> bool:
    todo, seen = [code], set()
    while todo:
        current = todo.pop()
        if current in roots:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(terms.get(current, {}).get("parents", ()))
    return False


def test_it_keeps_the_hierarchy_in_step_with_the_duo_ontology():
    terms = _ontology()
    roots = {"DUO:0000001", "DUO:0000017"}
    in_owl = {
        code: info["parents"]
        for code, info in terms.items()
        if not info["obsolete"] and _under(terms, code, roots)
    }
    written = {code: tuple(sorted(parents)) for code, parents in duo.HIERARCHY.items()}

    assert written == in_owl


def test_it_keeps_shorthands_and_labels_in_step_with_the_duo_ontology():
    terms = _ontology()

    for code, term in duo.KNOWN.items():
        owl = terms[code]
        assert (term.shorthand, term.label) == (owl["shorthand"], owl["label"]), code
    assert set(duo.KNOWN) == set(duo.HIERARCHY)


def test_it_knows_every_duo_term_the_catalogue_offers():
    # One table now: what the catalogue offers is a condition of the hierarchy, never a category.
    assert set(duo.BY_CODE) <= set(duo.HIERARCHY)
    for code in duo.BY_CODE:
        assert duo.is_permission(code) or duo.is_modifier(code), code


def test_it_follows_the_ontology_where_it_differs_from_the_usual_picture():
    # In DUO 2021-02-23 POA and NRES sit beside GRU, not under it, and NCU/NPU under NPUNCU.
    assert duo.ancestors(POA) == {"DUO:0000001"}
    assert duo.ancestors(NRES) == {"DUO:0000001"}
    assert duo.ancestors(DS) == {HMB, GRU, "DUO:0000001"}
    assert duo.ancestors(NCU) == {NPUNCU, "DUO:0000017"}
