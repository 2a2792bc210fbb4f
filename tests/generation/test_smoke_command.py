"""`manage.py smoke_recipes`: each recipe for a few samples, one line per recipe."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.generation.conftest import varied_judge

pytestmark = pytest.mark.django_db(transaction=True)


def smoke(bench: Any, *args: str) -> str:
    out = StringIO()
    call_command("smoke_recipes", "--project", str(bench.project.pk), *args, stdout=out)
    return out.getvalue()


def test_a_recipe_that_completes_gets_a_line_with_its_samples_and_seconds(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"additive 5-point", varied_judge)
    out = smoke(bench, "--recipes", "self_rewarding")
    line = next(x for x in out.splitlines() if x.startswith("self_rewarding"))
    assert " completed " in line and " 2/2 " in line and " s  [Seeds]" in line
    assert out.rstrip().endswith("1 of 1 recipes completed.")


def test_a_recipe_that_fails_says_why(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r"additive 5-point", "I cannot score this.")
    out = smoke(bench, "--recipes", "self_rewarding", "--futility-limit", "3")
    line = next(x for x in out.splitlines() if x.startswith("self_rewarding"))
    assert " failed " in line and "filtered: " in line
    assert out.rstrip().endswith("0 of 1 recipes completed.")


def test_an_unknown_recipe_is_named_in_the_error(bench: Any) -> None:
    with pytest.raises(CommandError, match="Unknown recipes: nope"):
        smoke(bench, "--recipes", "self_rewarding,nope")
