"""Signals about samples that apps above samples listen to (imports flow one way).

`samples_stored` is sent by a run's store, inside the transaction that inserted the rows:
`sender` is the run (duck-typed: pk, project_id, review_below, spot_check, name) and
`sample_ids` the new samples' ids. Review routes them (curation/review/routing.py), so a
sample is stored and routed together or not at all.
"""

from django.dispatch import Signal

samples_stored = Signal()
