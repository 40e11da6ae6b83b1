"""Cohort plans: the needs of a whole cohort resolved against the catalogue's capacity.

Diagnosis stays per person; this package shares out mentors, programme places
and mentor teams across the cohort (docs/route.md, "Cohort plans").
"""
