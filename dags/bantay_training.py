"""
### `bantay_training_<model>`: point-in-time training set, tuning, validation gate, approval, promotion

One DAG per model in `bantay.yaml` (`bantay_training_<model>`). Runs on the model's
`training_schedule` **or** when `bantay_drift` emits its `drift/<model>` Asset event, whichever
comes first; one run at a time. Every queued drift event of the run is honoured (deduplicated by
day); an event created by hand must carry a `reason` in its extra.

1. **plan**: which model, why (schedule, the drift event with its report, or a person's reason
   from the trigger form), and the as-of time (labels that had matured by then).
2. **training_window**, **wait_for_window**: the window is the `training_window_days` days that
   end the day before as-of, for the feature sources of the model's feature service and its
   label source. A sensor in *reschedule* mode (no worker slot between pokes, one poke a minute)
   holds the run until every day of it is **decided** by the data contract, so that nothing is
   ever fitted on a window a `bantay_features` run is still loading:
   - *accepted*, or *quarantined* with its `reason.json`: the contract has ruled. A quarantined
     day is not read and not waited for (its rows are untrustworthy; a re-delivery may never
     come); the sensor's result lists it.
   - *absent*: nothing was delivered and the day is **closed**: a later day of the source has
     been decided, at least `features.contract.max_lateness_days` (and one) days later, whose run
     was the last to pick up a late delivery (the label feed delivers only when outcomes mature:
     its days close on days when every feature source was decided), **and**
     `features.sensor_timeout_hours` have passed since the day ended (its own features run has
     stopped waiting). Listed like a quarantined day.

   It waits while a day is *in a run* (a queued or running `bantay_features` run covers it,
   including the earlier days its allowed lateness reaches back into; a run that has not planned
   yet holds the whole window), *being written* (the contract's staging file in `accepted/`),
   *delivered* (raw rows with no verdict yet: a backfill not run yet or a re-delivery, never
   closed on its own) or *missing* (not closed yet). Each poke logs, and pushes as the XCom
   `waiting`, lines like `waiting for 3 days of learning_activity: 2026-11-02, 2026-11-03,
   2026-11-04 (bantay_features run manual__... running)`; its return value says what the run
   goes on without. After `features.sensor_timeout_hours` + 2 h (a features run's own wait plus
   its tasks' timeout) it fails, naming every missing day and what to do; clear it to look again.
   The online store is not waited for: training reads the offline store (the accepted tree).
3. **training_set**: term outcomes as the entity frame; features from Feast's
   `get_historical_features` with the model's feature service, point-in-time correct.
4. **tune**: one mapped task per setting of the search space; each fits on train and scores on
   validation (temporal split: no learner's future in its past).
5. **evaluate**: the best setting fitted on train+validation is judged on the held-out test rows
   (ROC AUC, PR AUC, recall at the configured precision, Brier score, per slice) and against the
   production model on the test rows *neither* was fitted on (production was refit on everything
   up to its own as-of time; when it has seen every test row, on the whole test set, which only
   makes the bar stricter); then the **validation gate** (quality, no regression, fairness, data
   and model sanity). Every check is in the task log and in the version's manifest. A failing
   candidate is recorded as *rejected* with its reasons and goes no further.
   **The model that goes on is the same setting refit on every row** (train, validation and
   test): the gate judged the procedure on rows it had not seen, and the published model learns
   the newest rows too, which after a drift are the drifted ones (a split that kept drifted rows
   on both sides would leave some of them out of the final fit). The version records
   what it was fitted on (rows, span, the open drift's first day and the rows after it), and its
   **drift reference** is its own training distribution: the last `reference_days` fitted days,
   or, for a version fitted in a new regime (after a drift began, or after the version it
   replaces answered one), the days of that regime. The staged model, reference and evaluation
   record are hashed here; approval and publish check those digests.
6. **approval**: `auto`, or `manual` (a person approves or rejects under *Required Actions* in the
   UI with the gate report and the evaluated digests in front of them; the answer, the person
   and their note are recorded).
7. **publish_and_promote**: the approved version is uploaded to S3 (immutable), from the staged
   bytes whose digests the gate recorded (any other file is refused), and the production pointer
   is swapped atomically; the promotion is in the audit log. Emits `models/<model>/production`.
8. **tell_on_call** (runs started by a drift event only; skipped otherwise): e-mails the model's
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
