"""The statements a dose label must carry (SPEC.md §6 "Label content").

A pure function of plain inputs; the caller reads them from the batch, its
donor and its release.  Wording follows SPEC §6, which takes it from the US
HCT/P rules (21 CFR 1271.60(d)(2), 1271.65(b)(2), 1271.90(c); 1271.3(h) for
the biohazard legend):

* autologous: "FOR AUTOLOGOUS USE ONLY"; the recipient's two identifiers are
  printed by the label itself (``DoseLabel.recipient_identifiers``), so they
  are only checked here;
* autologous (21 CFR 1271.90(c)), read from the patient's own optional testing
  (SPEC §2), given in the ``donor_status`` words: not tested (``unscreened``) or
  results still pending (``incomplete``) → "NOT EVALUATED FOR INFECTIOUS
  SUBSTANCES" only — no "Advise patient" warning, which 1271.90(c) does not ask
  for an autologous product; all negative (``eligible``) → nothing more; a
  reactive result (``ineligible``) → the biohazard legend and "WARNING: Reactive
  test results for <agent>" for each reactive agent, CMV included (for the
  patient's own cells CMV is a reactive test result like any other; "CMV:
  reactive" is the allogeneic donor wording of 1271.85(b)(2));
* allogeneic donor screening incomplete:
  "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" and "WARNING: Advise patient of
  communicable disease risks";
* ineligible donor: the biohazard legend (the word "BIOHAZARD", which the
  renderers print beside the drawn symbol, ``labels.biohazard``), "WARNING: Advise
  patient of communicable disease risks" (21 CFR 1271.65(b)(2) asks for it
  with the legend, although SPEC §6 does not list it) and "WARNING: Reactive
  test results for <agent>" for each reactive agent;
* a reactive result that does not disqualify the donor (CMV, 21 CFR
  1271.85(b)(2); which markers is ``batches.models.REACTIVE_NOT_DISQUALIFYING``):
  "<agent>: reactive" — "CMV: reactive" — whatever the donor's status;
* not released: "QUARANTINE — NOT FOR RELEASE";
* exceptional release for urgent medical need (SPEC §3):
  :data:`URGENT_RELEASE_STATEMENT`.  Neither ISBT 128 nor 21 CFR 1271 gives a
  fixed phrase for it (1271.60(d) only requires the "not evaluated" and
  "advise patient" statements above, which are printed too when screening is
  incomplete), so the wording is ours: it says what was done and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from batches.states import DonorStatus, Origin
from labels.biohazard import BIOHAZARD_LEGEND
from labels.rendering import QUARANTINE_STATEMENT

AUTOLOGOUS_STATEMENT = "FOR AUTOLOGOUS USE ONLY"
NOT_EVALUATED_STATEMENT = "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
ADVISE_PATIENT_STATEMENT = "WARNING: Advise patient of communicable disease risks"
REACTIVE_STATEMENT = "WARNING: Reactive test results for {agent}"
RECORDED_REACTIVE_STATEMENT = "{agent}: reactive"
URGENT_RELEASE_STATEMENT = "FOR URGENT MEDICAL USE — released before completion of testing"

ORIGINS = ("autologous", "allogeneic")
DONOR_STATUSES = ("eligible", "incomplete", "unscreened", "ineligible")


def label_statements(
    *,
    origin: str,
    recipient_identifiers: Sequence[str],
    donor_status: str,
    reactive_agents: Sequence[str] = (),
    recorded_reactive_agents: Sequence[str] = (),
    released: bool,
    urgent_medical_need: bool = False,
) -> list[str]:
    """Statements a dose label must print, in print order (SPEC §6).

    ``origin`` is ``autologous`` or ``allogeneic``; ``donor_status`` is
    ``eligible``, ``incomplete``, ``unscreened`` (counts as incomplete) or
    ``ineligible`` — for an autologous dose, the patient's own testing in these
    words: ``unscreened`` not tested, ``incomplete`` results pending, ``eligible``
    all negative, ``ineligible`` reactive (21 CFR 1271.90(c), see the module);
    ``reactive_agents`` names the agents with reactive results that make the
    donor ineligible; ``recorded_reactive_agents`` those whose reactive result
    is recorded and labelled but not disqualifying (CMV, 21 CFR 1271.85(b)(2));
    ``released`` tells whether the batch is released, and
    ``urgent_medical_need`` whether that release was the exceptional one.
    Raises ``ValueError`` on inconsistent inputs: an unknown origin or
    status, an autologous dose without two recipient identifiers, reactive
    agents for a donor not found ineligible, recorded reactive agents for a
    donor never screened, an urgent release that is not a release.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
    if donor_status not in DONOR_STATUSES:
        raise ValueError(f"donor status must be one of {DONOR_STATUSES}, not {donor_status!r}")
    agents = [agent.strip() for agent in reactive_agents]
    recorded = [agent.strip() for agent in recorded_reactive_agents]
    if any(not agent for agent in (*agents, *recorded)):
        raise ValueError("a reactive agent needs a name")
    if recorded and donor_status == DonorStatus.unscreened:
        listed = ", ".join(recorded)
        raise ValueError(f"recorded reactive results for {listed} but the donor is unscreened")
    if agents and donor_status != DonorStatus.ineligible:
        listed = ", ".join(agents)
        raise ValueError(f"reactive results for {listed} but the donor is {donor_status}")
    if urgent_medical_need and not released:
        raise ValueError("an urgent-medical-need release is a release: released must be true")
    if origin == Origin.autologous:
        identifiers = [str(value).strip() for value in recipient_identifiers]
        if len(identifiers) != 2 or not all(identifiers):
            raise ValueError("an autologous dose label needs the recipient's two identifiers")

    statements = []
    if not released:
        statements.append(QUARANTINE_STATEMENT)
    if urgent_medical_need:
        statements.append(URGENT_RELEASE_STATEMENT)
    if origin == Origin.autologous:
        statements.append(AUTOLOGOUS_STATEMENT)
        # 21 CFR 1271.90(c): no "Advise patient" warning for the patient's own cells
        if donor_status == DonorStatus.ineligible:
            statements.append(BIOHAZARD_LEGEND)
            statements.extend(REACTIVE_STATEMENT.format(agent=agent) for agent in agents)
        elif donor_status in (DonorStatus.incomplete, DonorStatus.unscreened):
            statements.append(NOT_EVALUATED_STATEMENT)
    elif donor_status == DonorStatus.ineligible:
        statements.append(BIOHAZARD_LEGEND)
        statements.append(ADVISE_PATIENT_STATEMENT)
        statements.extend(REACTIVE_STATEMENT.format(agent=agent) for agent in agents)
    elif donor_status in (DonorStatus.incomplete, DonorStatus.unscreened):
        statements.append(NOT_EVALUATED_STATEMENT)
        statements.append(ADVISE_PATIENT_STATEMENT)
    statements.extend(RECORDED_REACTIVE_STATEMENT.format(agent=agent) for agent in recorded)
    return statements
