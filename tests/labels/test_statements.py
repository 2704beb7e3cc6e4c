"""Label statements (SPEC §6): which apply for each origin, donor status and release."""

import pytest

from labels import rendering
from labels.statements import (
    ADVISE_PATIENT_STATEMENT,
    AUTOLOGOUS_STATEMENT,
    BIOHAZARD_LEGEND,
    NOT_EVALUATED_STATEMENT,
    RECORDED_REACTIVE_STATEMENT,
    URGENT_RELEASE_STATEMENT,
    label_statements,
)
from tests.labels.test_rendering import make_label, pdf_pages

RECIPIENT = ("P-0042", "DOB 1970-01-31")


def statements(**overrides):
    values = {"origin": "allogeneic", "recipient_identifiers": RECIPIENT,
              "donor_status": "eligible", "reactive_agents": (), "released": True,
              "urgent_medical_need": False}
    values.update(overrides)
    return label_statements(**values)


def test_released_allogeneic_from_eligible_donor_needs_none():
    assert statements() == []


def test_autologous():
    assert statements(origin="autologous") == [AUTOLOGOUS_STATEMENT]
    assert AUTOLOGOUS_STATEMENT == "FOR AUTOLOGOUS USE ONLY"


@pytest.mark.parametrize("identifiers", [(), ("P-0042",), ("P-0042", " "), ("a", "b", "c")])
def test_autologous_needs_the_recipients_two_identifiers(identifiers):
    with pytest.raises(ValueError, match="two identifiers"):
        statements(origin="autologous", recipient_identifiers=identifiers)
    assert statements(recipient_identifiers=identifiers) == []  # allogeneic: not checked here


@pytest.mark.parametrize("status", ["incomplete", "unscreened"])
def test_incomplete_donor_screening(status):
    assert statements(donor_status=status) == [
        "NOT EVALUATED FOR INFECTIOUS SUBSTANCES",
        "WARNING: Advise patient of communicable disease risks",
    ]


def test_ineligible_donor_gets_biohazard_legend_and_one_warning_per_agent():
    assert statements(donor_status="ineligible", reactive_agents=["HBV", "HCV"]) == [
        "BIOHAZARD",
        ADVISE_PATIENT_STATEMENT,
        "WARNING: Reactive test results for HBV",
        "WARNING: Reactive test results for HCV",
    ]
    # ineligible on screening alone: the legend and the advice, no reactive warning
    assert statements(donor_status="ineligible") == [BIOHAZARD_LEGEND, ADVISE_PATIENT_STATEMENT]


def test_1271_85_b_2_a_recorded_reactive_cmv_is_printed_whatever_the_donor_status():
    """21 CFR 1271.85(b)(2), SPEC §6: "CMV: reactive" on the label of an eligible donor's
    dose, and beside the other statements of an incomplete or ineligible donor."""
    assert statements(recorded_reactive_agents=["CMV"]) == ["CMV: reactive"]
    assert statements(donor_status="incomplete", recorded_reactive_agents=["CMV"]) == [
        NOT_EVALUATED_STATEMENT, ADVISE_PATIENT_STATEMENT, "CMV: reactive"]
    assert statements(donor_status="ineligible", reactive_agents=["HCV"],
                      recorded_reactive_agents=["CMV"], released=False) == [
        rendering.QUARANTINE_STATEMENT, BIOHAZARD_LEGEND, ADVISE_PATIENT_STATEMENT,
        "WARNING: Reactive test results for HCV", "CMV: reactive"]
    assert RECORDED_REACTIVE_STATEMENT.format(agent="CMV") == "CMV: reactive"


def test_1271_85_b_2_a_recorded_reactive_result_needs_a_screened_donor():
    with pytest.raises(ValueError, match="unscreened"):
        statements(donor_status="unscreened", recorded_reactive_agents=["CMV"])
    with pytest.raises(ValueError, match="name"):
        statements(recorded_reactive_agents=[" "])


def test_quarantine_until_released():
    assert statements(released=False) == [rendering.QUARANTINE_STATEMENT]
    assert statements(released=False, donor_status="incomplete") == [
        "QUARANTINE — NOT FOR RELEASE", NOT_EVALUATED_STATEMENT, ADVISE_PATIENT_STATEMENT]
    assert rendering.QUARANTINE_STATEMENT not in statements(released=True)


def test_urgent_medical_need_release():
    assert statements(urgent_medical_need=True, donor_status="incomplete") == [
        "FOR URGENT MEDICAL USE — released before completion of testing",
        NOT_EVALUATED_STATEMENT,
        ADVISE_PATIENT_STATEMENT,
    ]
    # pending 14-day sterility with an eligible donor: only the urgent-use statement
    assert statements(urgent_medical_need=True) == [URGENT_RELEASE_STATEMENT]


def test_inconsistent_inputs_are_refused():
    with pytest.raises(ValueError, match="release"):
        statements(urgent_medical_need=True, released=False)
    with pytest.raises(ValueError, match="reactive"):
        statements(reactive_agents=["HIV-1"])
    with pytest.raises(ValueError):
        statements(donor_status="ineligible", reactive_agents=[" "])
    with pytest.raises(ValueError):
        statements(origin="xenogeneic")
    with pytest.raises(ValueError):
        statements(donor_status="maybe")


def test_statements_print_on_the_label():
    found = statements(origin="autologous", donor_status="ineligible", reactive_agents=["HBV"],
                       released=False)
    label = make_label(statements=found, quarantine=True)
    assert label.printed_statements() == found  # the quarantine legend is not doubled
    [(_image, text)] = pdf_pages(rendering.dose_label_pdf(label))
    words = " ".join(text.split())  # long statements wrap
    for statement in found:
        assert statement in words


# -- autologous products, 21 CFR 1271.90(c) (SPEC §2 autologous testing, §6) --------------


@pytest.mark.parametrize("status", ["unscreened", "incomplete"])
def test_1271_90_c_autologous_not_tested_is_not_evaluated_without_advise_patient(status):
    """21 CFR 1271.90(c): an autologous product not tested (or with results still pending)
    says "FOR AUTOLOGOUS USE ONLY" and "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" — and not
    "Advise patient of communicable disease risks", which 1271.90(c) does not ask for."""
    assert statements(origin="autologous", donor_status=status) == [
        AUTOLOGOUS_STATEMENT, NOT_EVALUATED_STATEMENT]
    assert statements(origin="autologous", donor_status=status, released=False) == [
        rendering.QUARANTINE_STATEMENT, AUTOLOGOUS_STATEMENT, NOT_EVALUATED_STATEMENT]


def test_1271_90_c_autologous_tested_all_negative_is_for_autologous_use_only():
    """21 CFR 1271.90(c): tested, every marker negative → "FOR AUTOLOGOUS USE ONLY" only."""
    assert statements(origin="autologous", donor_status="eligible") == [AUTOLOGOUS_STATEMENT]


def test_1271_90_c_autologous_reactive_gets_biohazard_and_a_warning_per_agent_cmv_too():
    """21 CFR 1271.90(c): a reactive autologous product → "FOR AUTOLOGOUS USE ONLY", the
    biohazard legend and "WARNING: Reactive test results for <agent>" for each reactive
    agent — CMV included (not the allogeneic "CMV: reactive") — and no "Advise patient"."""
    assert statements(origin="autologous", donor_status="ineligible",
                      reactive_agents=["HBV (HBsAg)", "CMV"]) == [
        AUTOLOGOUS_STATEMENT,
        BIOHAZARD_LEGEND,
        "WARNING: Reactive test results for HBV (HBsAg)",
        "WARNING: Reactive test results for CMV",
    ]
    assert ADVISE_PATIENT_STATEMENT not in statements(
        origin="autologous", donor_status="ineligible", reactive_agents=["CMV"],
        released=False)
