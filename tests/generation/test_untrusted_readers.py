"""The kit's readers of model output meet degenerate text: they give up (None, "", or the
text as it was), they never raise, so one strange reply drops an item, not the run."""

from __future__ import annotations

from generation.llm import n_limit
from generation.recipes.codeclm_parse import parse_metadata
from generation.recipes.i_sheep_parse import parse_pipe_score
from generation.recipes.kit import tags
from generation.recipes.kit.answers import extract, matches, normalise
from generation.recipes.kit.parse import final_answer, without_echo

HUGE_NUMBER = "7" * 5000  # past Python's int-conversion limit (4300 digits)
DEEP = "[" * 3000 + "]" * 3000


def test_a_number_too_long_to_convert_is_no_answer() -> None:
    assert normalise(HUGE_NUMBER, "number") is None
    assert not matches(HUGE_NUMBER, "7", "number")
    final_answer(f"The answer is {HUGE_NUMBER}.")  # does not raise
    extract(f"#### {HUGE_NUMBER}", "auto")


def test_a_score_too_large_for_a_float_is_no_score() -> None:
    assert parse_pipe_score("9" * 400 + "||fine") is None


def test_brackets_nested_past_the_recursion_limit_are_not_json() -> None:
    assert isinstance(tags.parse_tags(f"Tags: {DEEP}"), list)  # read as text, not JSON
    assert parse_metadata("{" * 3000 + "}" * 3000) is None


def test_an_echo_of_the_prompt_is_cut_only_at_a_word_boundary() -> None:
    assert without_echo("The film was a delight.", "Rating: 5.0 The film") == " was a delight."
    assert without_echo("The filmmakers won.", "Rating: 5.0 The film") == "The filmmakers won."
    assert without_echo("Theatre is fun.", "A review: The") == "Theatre is fun."


def test_only_a_limit_on_n_itself_caps_n() -> None:
    assert n_limit("Field 'n': Value must be between 1 <= value <= 4, but got 8") == 4
    assert n_limit("when n > 1, temperature must be <= 2") is None
