"""Seeded synthetic sample: a homeless population with ground truth, a count night, partner files."""
