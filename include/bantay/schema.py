"""The keys every feed partition carries: the learner, the time the row describes, and the time
it was written. Pure constants: cheap to import anywhere, including DAG files.

What a feed's other columns are (types, ranges, allowed values) is declared in configuration,
``features.feeds`` (:mod:`bantay.settings.feeds`), never here.
"""

from __future__ import annotations

ENTITY = "learner_id"
TIMESTAMP = "event_timestamp"
CREATED = "created_timestamp"
# The learner in the batch output that leaves bantay without ids (a keyed hash of the id).
PSEUDONYM = "learner_pseudonym"
