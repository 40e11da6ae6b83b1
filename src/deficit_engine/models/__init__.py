"""The value types of a Result, shared by every stage of the pipeline.

The stages (diagnosis in ``engine``, ``resolve``, ``route``) import these types;
these modules import no stage, so a reader of a Result (export, the step
library, a downstream project) depends on the data and not on the code that
made it.

* :mod:`.diagnosis` -- deficits, needs, trace entries, the normalised scores;
* :mod:`.recommendation` -- recommendations, unmet needs, the resolution;
* :mod:`.route` -- the scheduled route: steps, overflow, order conflicts;
* :mod:`.result` -- the Result that holds them all;
* :mod:`.marks` -- a tutor's mark on a route step;
* :mod:`.provenance` -- where a score came from (instrument, source, date);
* :mod:`.jsontext` -- indented JSON as ``json.dumps`` writes it, by orjson where identical.
"""

from __future__ import annotations

from .diagnosis import Deficit, Fact, Need, Scores, TraceEntry, fact_sort_key
from .marks import MARK_STATUSES, MarkStatus, StepMark
from .provenance import Provenance
from .recommendation import (
    UNADDRESSED_REASON,
    Recommendation,
    Resolution,
    UnaddressedDeficit,
    Unmet,
    UnmetEntry,
    json_number,
)
from .result import Result
from .route import STEP_KINDS, Conflict, Overflow, Route, Step

__all__ = [
    "MARK_STATUSES",
    "STEP_KINDS",
    "UNADDRESSED_REASON",
    "Conflict",
    "Deficit",
    "Fact",
    "MarkStatus",
    "Need",
    "Overflow",
    "Provenance",
    "Recommendation",
    "Resolution",
    "Result",
    "Route",
    "Scores",
    "Step",
    "StepMark",
    "TraceEntry",
    "UnaddressedDeficit",
    "Unmet",
    "UnmetEntry",
    "fact_sort_key",
    "json_number",
]
