"""Seeded synthetic sample: a homeless population with ground truth, a count night, partner files
and the partners' tallies of the places they counted on the night.

Only synthetic people: names come from seeded Faker instances and curated lists of common
names. Used to build the demo database, by the linkage and feed tests, and by benchmarks.

    sample = generate_sample(communes, sectors, seed=2026)
    write_sample(sample, "demo/")
"""

from observatoire.synthetic.errors import ERROR_KINDS
from observatoire.synthetic.generator import (
    AGE_BANDS,
    HOMELESS_DURATIONS,
    STREET_PLACES,
    GeneratorConfig,
    SyntheticSample,
    default_n_people,
    generate_sample,
)
from observatoire.synthetic.names import ORIGINS, VARIANT_FAMILIES
from observatoire.synthetic.write import FILE_FORMATS, write_sample

__all__ = [
    "AGE_BANDS",
    "ERROR_KINDS",
    "FILE_FORMATS",
    "HOMELESS_DURATIONS",
    "ORIGINS",
    "STREET_PLACES",
    "VARIANT_FAMILIES",
    "GeneratorConfig",
    "SyntheticSample",
    "default_n_people",
    "generate_sample",
    "write_sample",
]
