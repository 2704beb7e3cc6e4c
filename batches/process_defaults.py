"""Default products and process templates (SPEC §2), as data.

The migration ``0002_batches`` seeds the database with a frozen copy of these
values (a migration must not change when this module does);
``tests/batches/test_process_templates.py`` checks that the two agree.
Admins edit products and templates afterwards (API ``/api/v1/products``,
``/api/v1/process-templates``): the values here are only the starting point.

* MSC: media change every 72 h (grace 12 h) after seeding, a media change or a
  passage; at most passage 5.
* NK: feeding every 48 h (grace 12 h) after seeding or a feeding; harvest by
  day 21 (due 21 × 24 h after seeding, no grace).

MSC is cryopreserved (thawed before administration, 4 h post-thaw expiry; migration
``0008`` sets it), NK fresh (SPEC §2).

The ISBT 128 product description codes are placeholders (``S9001``, ``S9002``):
the real ones come from ICCBBA's licensed database and are set per site.
"""

from __future__ import annotations

PRODUCTS: list[dict] = [
    {"code": "MSC", "name": "Mesenchymal stromal cells, culture-expanded",
     "description_code": "S9001", "storage_temperature": "≤ −150 °C (vapour-phase LN2)",
     "shelf_life_hours": 24 * 365, "default_container": "cryobag",
     "cryopreserved": True, "post_thaw_expiry_hours": 4},
    {"code": "NK", "name": "Natural killer cells, culture-expanded",
     "description_code": "S9002", "storage_temperature": "2–8 °C",
     "shelf_life_hours": 48, "default_container": "infusion bag",
     "cryopreserved": False, "post_thaw_expiry_hours": 4},
]

TEMPLATES: dict[str, dict] = {
    "MSC": {
        "name": "MSC expansion (default)",
        "max_passage": 5,
        "rules": [
            ("seeding", "media_change", 72, 12),
            ("media_change", "media_change", 72, 12),
            ("passage", "media_change", 72, 12),
        ],
    },
    "NK": {
        "name": "NK expansion (default)",
        "max_passage": None,
        "rules": [
            ("seeding", "feeding", 48, 12),
            ("feeding", "feeding", 48, 12),
            ("seeding", "harvest", 21 * 24, 0),
        ],
    },
}
"""Per product: rules ``(after_step, next_step, interval_hours, grace_hours)``."""
