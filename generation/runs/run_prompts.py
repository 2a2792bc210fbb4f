"""A prompt version made by a run: a recipe that optimises one of its own prompts (Auto
Evol-Instruct's evolving method, METHODS.md #12) keeps the result as the project's next
version of that prompt, as if a person had saved it on the Prompts page.

`save_run_prompt` is the verb. It goes through `services.save_prompt_override` (the same
checks, version numbering and "prompt.override" audit event) and also writes a
"prompt.evolve" event on the run that names the work item. That event makes it idempotent:
the same (run, work item, prompt) gets the version it made the first time, however often
the item resumes or runs again, so a crash between saving and the item's next checkpoint
cannot make a second version. Locking the run row serialises two drivers that overlap.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from curation.projects import audit
from curation.projects.models import AuditEvent
from generation.runs.models import PromptOverride, Run
from generation.runs.services import save_prompt_override

VERB = "prompt.evolve"


def save_run_prompt(
    run_id: int, work_key: str, name: str, text: str, detail: dict[str, Any] | None = None
) -> PromptOverride:
    """The project's new version of the run's prompt `name`, made once per work item.

    Raises ServiceError (from save_prompt_override) when the text is not a valid override.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        earlier = (
            AuditEvent.objects.filter(
                verb=VERB,
                object_type=Run._meta.label_lower,
                object_id=str(run.pk),
                after__key=work_key,
                after__name=name,
            )
            .order_by("id")
            .first()
        )
        made_pk = (
            earlier.after.get("override") if earlier and isinstance(earlier.after, dict) else None
        )
        made = PromptOverride.objects.filter(pk=int(made_pk)).first() if made_pk else None
        if made is not None:
            return made
        override = save_prompt_override(None, run.project, run.recipe_id, name, text)
        audit.record(
            None,
            VERB,
            run,
            project=run.project_id,
            after={
                **(detail or {}),
                "key": work_key,
                "name": name,
                "override": override.pk,
                "version": override.version,
            },
        )
    return override
