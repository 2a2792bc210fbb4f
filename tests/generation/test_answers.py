"""Answer extraction and normalisation (kit/answers.py): GAIA's quasi-exact match and more."""

from __future__ import annotations

import pytest

from generation.recipes.kit.answers import (
    Kind,
    extract,
    extractor,
    kind_of,
    matches,
    normalise,
    tied,
    vote_record,
)
from generation.recipes.kit.item import Item
from generation.recipes.kit.parse import final_answer, normalise_answer


def test_the_gaia_scorer_acceptance_cases() -> None:
    assert matches("1,000", "1000")
    assert not matches("Paris, France", "Paris")
    assert matches("a, b", "a,b")


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("1,000", "1000"),
        ("$1,000.00", "1000"),
        ("2.50", "2.5"),
        ("48 muffins", "48"),
        ("180 kilometres", "180"),
        ("50%", "50"),
        ("−3", "-3"),
        ("1.", "1"),
        ("\\frac{1}{2}", "0.5"),
    ],
)
def test_numbers_lose_commas_units_currency_and_trailing_zeros(answer: str, reference: str) -> None:
    assert matches(answer, reference, "number")
    assert matches(answer, reference)  # auto reads the reference as a number


def test_numbers_that_differ_or_do_not_read_as_numbers_do_not_match() -> None:
    assert not matches("49", "48", "number")
    assert not matches("3 hours 20 minutes", "3", "number")
    assert not matches("forty-eight", "48", "number")
    assert not matches("0.333", "1/3", "number")
    assert normalise("1,2,3", "number") is None  # not thousands separators: a list
    assert normalise("1,2,3") == "1,2,3"


def test_a_choice_is_a_letter_however_it_is_written() -> None:
    for text in ("(B)", "Answer: B", "the answer is b)", "I pick (B) because it fits", "B. blue"):
        assert extract(text, "choice") == "B", text
    assert matches("(b)", "B", "choice")
    assert extract("A train leaves at noon.", "choice") is None
    assert extract("The answer is blue.", "choice") is None


def test_short_strings_lose_case_punctuation_articles_and_extra_spaces() -> None:
    assert matches("  The Eiffel   Tower. ", "eiffel tower", "short")
    assert matches("mercury!", "Mercury")
    assert not matches("Venus", "Mercury")
    assert normalise("a", "short") == "a"  # an answer that is only an article keeps it


def test_math_reads_boxed_fractions_and_light_latex() -> None:
    assert extract("so \\boxed{\\frac{1}{\\sqrt{2}}} is it", "math") == "\\frac{1}{\\sqrt{2}}"
    assert matches("\\boxed{\\frac{1}{2}}", "0.5", "math")
    assert matches("\\dfrac12", "0.5", "math")
    assert matches("$x = 5$", "5", "math")
    assert matches("1/3", "\\frac{1}{3}", "math")
    assert matches("\\sqrt 2", "\\sqrt{2}", "math")
    assert matches("10^{\\circ}", "10", "math")
    assert matches("\\text{5 cm}", "5", "math")
    assert not matches("\\sqrt{3}", "\\sqrt{2}", "math")


def test_lists_compare_element_by_element_in_order() -> None:
    assert matches("red; green", "red, green", "list")
    assert matches("3, 4", "3.0, 4", "list")
    assert not matches("green, red", "red, green", "list")
    assert not matches("red", "red, green", "list")


def test_the_answer_is_read_from_the_last_statement_of_a_reply() -> None:
    assert extract("12 x 4 = 48. The answer is 48.") == "48"
    assert extract("The answer is 12 x 4 = 48.", "number") == "48"
    assert extract("First 3, then 4.\nThe answer is 7. Next question...") == "7"
    assert extract("#### 1,000\n") == "1,000"
    assert extract("We get 35 - 9 = 26, plus 6 is 32") == "32"
    assert extract("The answer is Paris. It is big.", "short") == "Paris"
    assert extract("Mercury", "short") == "Mercury"
    assert extract("", "auto") is None
    assert extract("no number here at all", "number") is None


def test_auto_takes_the_kind_of_the_reference() -> None:
    assert kind_of("7") == "number"
    assert kind_of("\\sqrt{2}") == "math"
    assert kind_of("Paris, France") == "list"
    assert kind_of("Paris") == "short"


STABLE: list[tuple[str, Kind]] = [
    ("$1,000", "number"),
    ("The Eiffel Tower", "short"),
    ("\\frac{1}{3}", "math"),
    ("a , b", "list"),
    ("(c)", "choice"),
]


def test_normalised_forms_are_stable_when_normalised_again() -> None:
    for value, kind in STABLE:
        once = normalise(value, kind)
        assert once is not None and normalise(once, kind) == once


def test_a_vote_counts_equal_answers_written_differently_as_one() -> None:
    replies = ["... The answer is 0.5.", "\\boxed{\\frac{1}{2}}", "The answer is 1/3.", "junk"]
    vote = Item.vote(replies, extract=extractor("math"))
    assert vote.answer == "0.5" and vote.count == 2 and vote.indices == [0, 1]
    assert vote.answers[3] is None


def test_the_kit_parse_helpers_delegate_here() -> None:
    assert final_answer("So the answer is $1,000.") == "1000"
    assert final_answer("\\boxed{\\frac{1}{2}}") == "0.5"
    assert final_answer("") is None
    assert normalise_answer(" Paris. ") == "paris"


def test_a_vote_records_its_share_and_a_tie_names_no_majority() -> None:
    vote = Item.vote(["The answer is 4.", "4", "The answer is 5.", ""], extract=extractor())
    assert vote_record(vote) == {"answer": "4", "share": 0.5, "count": 2, "of": 4}
    assert vote_record(vote, "four")["answer"] == "four"
    assert not tied(vote)
    assert tied(Item.vote(["4", "5"], extract=extractor()))
