"""A QC sample time must be plausible and representable in UTC (SPEC §8 "bad input")."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                  "0001-01-02T00:00:00+00:00", "1985-03-04T10:00:00+01:00"])
def test_sample_time_must_be_plausible(qlab, when):
    batch = qlab.in_review()
    refused = qlab.result(batch, "viability", status=400, value=91.0, unit="%",
                          sampled_at=when)
    assert "sampled_at" in refused["details"]["fields"]
