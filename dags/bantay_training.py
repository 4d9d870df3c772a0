"""
### `bantay_training_<model>`: point-in-time training set, tuning, validation gate, approval, promotion

One DAG per model in `bantay.yaml` (`bantay_training_<model>`). Runs on the model's
`training_schedule` **or** when `bantay_drift` emits its `drift/<model>` Asset event, whichever
comes first; one run at a time. Every queued drift event of the run is honoured (deduplicated by
day); an event created by hand must carry a `reason` in its extra.

1. **plan**: which model, why (schedule, the drift event with its report, or a person's reason
   from the trigger form), and the as-of time (labels that had matured by then).
2. **training_set**: term outcomes as the entity frame; features from Feast's
   `get_historical_features` with the model's feature service, point-in-time correct.
3. **tune**: one mapped task per setting of the search space; each fits on train and scores on
   validation (temporal split: no learner's future in its past).
4. **evaluate**: the best setting refit on train+validation; ROC AUC, PR AUC, recall at the
   configured precision, Brier score, per slice; the production model scored on the same test
   set; the **validation gate** (quality, no regression, fairness, data and model sanity). Every
   check is in the task log and in the version's manifest. A failing candidate is recorded as
   *rejected* with its reasons and goes no further.
5. **approval**: `auto`, or `manual` (a person approves or rejects under *Required Actions* in the
   UI with the gate report in front of them; the answer and note are recorded).
6. **publish_and_promote**: the approved version is uploaded to S3 (immutable) and the production
   pointer is swapped atomically; the promotion is in the audit log. Emits
   `models/<model>/production`.
7. **tell_on_call** (runs started by a drift event only; skipped otherwise): e-mails the model's
   drift recipients what the retrain led to, `promoted` or `rejected` by the gate (with its
   reasons), with the candidate against production on the same test rows and a link to the run.
   With manual approval, `manual_approval` sends `waiting for your approval` when it starts
   waiting. A failed send is a warning in the log, never a failed promotion.

Trigger form: `reason` (required for a manual run), `force` with `force_reason` (skips only the
no-regression check; the reason is audited), `as_of` (optional).
"""

from __future__ import annotations

from bantay.airflow.training_dag import training_dag
from bantay.settings import get_settings

SETTINGS = get_settings()

for _model in SETTINGS.models:
    training_dag(SETTINGS, _model, doc_md=__doc__)
