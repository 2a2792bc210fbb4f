"""SPIN's iterations as Seedbed rounds: which runs came before this one, and their pairs.

Iteration t of SPIN is a run on the endpoint trained after iteration t−1, started as the
next round of the run before it (Run.previous_run). Its training data "can include earlier
iterations' pairs": the reference code (uclaml/SPIN, configs/config_iter*.yaml) trains
iteration t on its own pairs and those of iteration t−1. No pair is copied between runs;
an export selects the rounds by run id (`filters.run_ids`).
"""

from __future__ import annotations

from typing import Any

MAX_ROUNDS = 50  # a chain longer than this is cut (and said so)


def chain(run: Any) -> list[Any]:
    """The runs of this run's rounds, first round first, this run last."""
    from generation.runs.models import Run  # a database read, at report time only

    runs = [run]
    seen = {run.pk}
    while runs[-1].previous_run_id is not None and len(runs) < MAX_ROUNDS:
        earlier = Run.objects.filter(pk=runs[-1].previous_run_id).first()
        if earlier is None or earlier.pk in seen:
            break
        runs.append(earlier)
        seen.add(earlier.pk)
    return runs[::-1]


def report(run: Any) -> dict[str, Any]:
    """The round, this run's pairs, the earlier rounds' and the run ids to export them by."""
    from django.db.models import Count, Q

    from curation.samples.models import Sample  # a database read, at report time only

    runs = chain(run)
    ids = [r.pk for r in runs]
    counted = (
        Sample.objects.filter(run_id__in=ids, kind="preference")
        .values("run_id")
        .annotate(pairs=Count("id"), accepted=Count("id", filter=Q(status="accepted")))
    )
    by_run = {c["run_id"]: (c["pairs"], c["accepted"]) for c in counted}
    earlier = [
        f"run {r.pk} (round {r.round}): {by_run.get(r.pk, (0, 0))[0]} pairs, "
        f"{by_run.get(r.pk, (0, 0))[1]} accepted"
        for r in runs[:-1]
    ]
    with_previous = ids[-2:]
    return {
        "round": run.round,
        "pairs": by_run.get(run.pk, (0, 0))[0],
        "accepted_pairs": by_run.get(run.pk, (0, 0))[1],
        "earlier_rounds": "; ".join(earlier) or "none (this is the first round)",
        "rounds_run_ids": ids,
        "with_previous_round_run_ids": with_previous,
        "export_with_previous_round": f'filters {{"run_ids": {with_previous}}} (the reference '
        "trains iteration t on its pairs and iteration t−1's)",
        "export_all_rounds": f'filters {{"run_ids": {ids}}}',
        "chain_cut": runs[0].previous_run_id is not None,
    }
