"""Fixtures for the qc tests: the batches ``lab`` plus QC helpers that bring a batch to
QC review, enter and review every release result through the API."""

from __future__ import annotations

import pytest

from tests.batches.conftest import Lab, admin, qa, tech  # noqa: F401 — fixtures
from tests.conftest import TEST_PASSWORD

PASSING = {
    "sterility": {"outcome": "negative"}, "mycoplasma": {"outcome": "negative"},
    "gram_stain": {"outcome": "negative"}, "endotoxin": {"value": 0.1, "unit": "EU/mL"},
    "viability": {"value": 91.0, "unit": "%"},
    "cd73": {"value": 98.0, "unit": "%"}, "cd90": {"value": 99.0, "unit": "%"},
    "cd105": {"value": 97.0, "unit": "%"}, "cd45": {"value": 0.5, "unit": "%"},
    "cd34": {"value": 0.4, "unit": "%"}, "cd14": {"value": 0.3, "unit": "%"},
    "cd19": {"value": 0.2, "unit": "%"}, "hla_dr": {"value": 1.0, "unit": "%"},
    "cd56_cd3neg": {"value": 85.0, "unit": "%"}, "cd3": {"value": 1.5, "unit": "%"},
}
RELEASE_TESTS = {
    "MSC": ["sterility", "mycoplasma", "endotoxin", "viability", "cd73", "cd90", "cd105",
            "cd45", "cd34", "cd14", "cd19", "hla_dr", "gram_stain"],
    "NK": ["sterility", "mycoplasma", "endotoxin", "viability", "cd56_cd3neg", "cd3"],
}


class QcLab(Lab):
    def __init__(self, client, tech_headers, qa_headers, reviewer, signer) -> None:
        super().__init__(client, tech_headers, qa_headers)
        self.reviewer, self.signer = reviewer, signer

    def in_review(self, product: str = "MSC", **fields) -> dict:
        batch = self.harvested(product, **fields)
        self.post(f"/batches/{batch['id']}/doses",
                  {"count": 2, "cells_per_dose": 10_000_000, "volume_ml": 10.0})
        return self.client.get(f"/api/v1/batches/{batch['id']}", headers=self.tech).json

    def result(self, batch: dict, test: str, status: int | None = 201, headers=None, **body):
        payload = {"test": test, **(body or PASSING[test])}
        response = self.post(f"/batches/{batch['id']}/qc-results", payload,
                             headers=headers or self.tech, status=status)
        return response.json

    def review(self, result: dict, headers=None, status: int | None = 200):
        return self.post(f"/qc-results/{result['id']}/review", {},
                         headers=headers or self.reviewer, status=status).json

    def all_results(self, batch: dict, product: str = "MSC", skip=(), review=True) -> list:
        results = []
        for test in RELEASE_TESTS[product]:
            if test in skip:
                continue
            result = self.result(batch, test)
            if review:
                self.review(result)
            results.append(result)
        return results

    def ready(self, product: str = "MSC", **fields) -> dict:
        batch = self.in_review(product, **fields)
        self.all_results(batch, product)
        return batch

    def release(self, batch: dict, headers=None, status: int | None = 200, **body):
        payload = {"password": TEST_PASSWORD, "meaning": "approval", **body}
        return self.post(f"/batches/{batch['id']}/release", payload,
                         headers=headers or self.signer, status=status)


@pytest.fixture
def reviewer(api_headers):
    return api_headers("technician")


@pytest.fixture
def signer(api_headers):
    """A QA officer who did nothing on the batches: the one who signs releases."""
    return api_headers("qa")


@pytest.fixture
def qlab(client, tech, qa, reviewer, signer):  # noqa: F811
    return QcLab(client, tech, qa, reviewer, signer)
