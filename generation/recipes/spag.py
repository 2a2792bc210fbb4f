"""SPAG, Self-Play of Adversarial Games (METHODS.md #4; Cheng et al., "Self-playing
Adversarial Language Game Enhances LLM Reasoning", NeurIPS 2024, arXiv 2404.10642,
reference code `Linear95/SPAG`).

The game is Adversarial Taboo: ① SAMPLE a target word → ② SIM an attacker, who knows the
word, against a defender, who does not, at most 5 turns each → ③ CHECK the outcome with the
game's rules after every turn (spag_rules: a pure rule judge) → ④ keep won games (ties and
rule breaks drop, with their reason) and give the winner's turns decaying rewards (decay
0.8: later winning turns weigh more; one game's weights add up to 1) → ⑤ FMT one SFT row
per winning turn, the game so far → the winner's utterance, its weight in extra["weight"].
The paper's imitation learning and offline RL on these rows happen outside Seedbed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes import spag_rules as rules
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.sim import Agent, Conversation, Turn

NO_TURNS = "(no turns yet: you open the game)"


class Params(RecipeParams):
    max_turns: int = Field(
        5, ge=1, le=20, description="Turns per player; no event in them is a tie (dropped)."
    )
    reward_decay: float = Field(
        0.8, gt=0.0, le=1.0, description="Each winning turn weighs this times the next one "
        "(later turns weigh more); one game's weights add up to 1.",
    )  # fmt: skip
    temperature: float = Field(
        1.2, ge=0.0, le=2.0, description="Sampling temperature of both players."
    )
    max_tokens: int = Field(256, ge=16, le=4096, description="Most tokens per turn.")
    keep_episode: bool = Field(
        False, description="Also store each won game whole, as a conversation sample."
    )


def transcript(turns: list[Turn]) -> str:
    """The game so far as the SFT row's prompt shows it, one named turn per line."""
    return "\n".join(f"{t.agent}: {t.content}" for t in turns) or NO_TURNS


@kit.register
class Spag(kit.Recipe[Params]):
    meta = kit.Meta(
        "spag", "SPAG (Adversarial Taboo)", entry=4, version="1", output="sft",
        section="self_play", inputs=frozenset({"word_list"}),
        summary="Adversarial Taboo self-play: an attacker who knows a word makes a defender "
        "say it, or the defender guesses it; won games give the winner's turns "
        "reward-weighted SFT rows.",
        roles=(
            kit.POLICY,
            kit.Role("attacker", "Plays the attacker, who knows the target word; defaults "
                     "to the policy model.", required=False, fallback="policy"),
            kit.Role("defender", "Plays the defender, who must infer the word; defaults to "
                     "the policy model.", required=False, fallback="policy"),
        ),
        needs=(kit.Need("MM", "a strong model for the imitation games (GPT-4 against itself "
                        "in the paper)", "one model plays both roles", role="attacker"),),
        yield_per_item=1.5,
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "target_word", "One target word from the word list."),
        Step("SIM", "game", "The attacker (shown the word) and the defender (not) take "
             "turns, attacker first, at most 5 turns each."),
        Step("CHECK", "rules", "After every turn: the defender's \"I know the word! It is "
             "`X`!\" wins with the right X and loses with a wrong one (one guess); the "
             "defender saying the word (plural, -ing, -ed, quoted) loses; the attacker "
             "saying it or guessing breaks the rules; no event in 5 turns each is a tie."),
        Step("CHECK", "won_games", "Ties and rule breaks are dropped, with their reason."),
        Step("FMT", "winner_turns", "One SFT row per winning turn (the game so far → the "
             "winner's utterance) weighted 0.8^(n−k), normalised to 1 per game."),
    )  # fmt: skip
    deviations = (
        "No training: the paper fine-tunes on GPT-4 imitation games and then runs offline "
        "RL on self-play games, round after round. Seedbed makes one round's games, outcomes "
        "and reward-weighted rows; a new round is a new run against the trained model.",
        "One model plays both roles by default (the attacker and defender roles fall back "
        "to the policy model). For imitation games map a strong endpoint to both roles.",
        "The rule, role and row prompts are ours; the reference code draws one of several "
        "paraphrased rule prompts at random, we use one.",
        "Saying the word is matched on whole words, case-insensitively (the code matches "
        "substrings, so 'art' would be said by 'start'); its forms are a small English rule "
        "for plurals plus -ing and -ed (the code uses TextBlob). A guess is the text after "
        '"I know the word", compared with the word\'s forms.',
        "During play each player sees the game as a chat (its own turns as the assistant's); "
        "each SFT row flattens the game so far into one prompt, as the code's queries do.",
        "Weights are normalised per game (they add up to 1). The code also rebalances "
        "attacker and defender rows over the whole data set (each side 1/2 in expectation); "
        "each row's winner is in its metadata and tags, so training can do that.",
        "The paper plays ~50K target words (imitation games on the top 30K); a run plays the "
        "words of its seed set. Temperature 1.2 is the code's sampling setting.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("spag")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        it.check(bool(it.seeds), "no_words")
        picked: list[SeedRow] = await it.sample(it.seeds, 1)
        word = str(picked[0].payload.get("word") or picked[0].text).strip()
        it.check(bool(word), "empty_word")
        prompts = it.host.prompts
        game = prompts["rules"].render(max_turns=str(p.max_turns))
        systems = {
            rules.ATTACKER: prompts["attacker"].render(rules=game, word=word),
            rules.DEFENDER: prompts["defender"].render(rules=game),
        }
        options = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        agents = [
            Agent(rules.ATTACKER, role="attacker", system=systems[rules.ATTACKER],
                  as_role="user", options=options),
            Agent(rules.DEFENDER, role="defender", system=systems[rules.DEFENDER],
                  options=options),
        ]  # fmt: skip

        async def referee(conversation: Conversation, turn: Turn) -> str | None:
            event = rules.judge_turn(turn.agent, turn.content, word, len(conversation.turns) - 1)
            return event.outcome if event else None

        conversation = await it.sim(agents, max_turns=2 * p.max_turns, check=referee)
        history = [(t.agent, t.content) for t in conversation.turns]
        event = rules.outcome(history, word, p.max_turns)
        at = f"turn {event.turn + 1}: {event.detail}"
        it.check(event.outcome != rules.RULE_BREAK, rules.RULE_BREAK, at)
        if event.outcome == rules.TIE:
            ended = conversation.stopped
            it.check(ended != "empty_turn", "empty_turn", f"after {len(history)} turns")
            raise kit.Drop(rules.TIE, event.detail)
        winner = str(event.winner)
        mine = [i for i, t in enumerate(conversation.turns[: event.turn + 1]) if t.agent == winner]
        weights = rules.turn_weights(len(mine), p.reward_decay)
        episode = {
            "episode": it.key, "word": word, "outcome": event.outcome, "winner": winner,
            "ended_at_turn": event.turn + 1, "reason": event.detail, "turns": len(history),
            "winner_turns": len(mine), "decay": p.reward_decay,
        }  # fmt: skip
        tags = [f"winner:{winner}"]
        version = prompts[winner].version
        pieces = []
        for k, (i, weight) in enumerate(zip(mine, weights, strict=True)):
            shown = prompts["turn"].render(
                history=transcript(conversation.turns[:i]), turn=str(k + 1),
                max_turns=str(p.max_turns),
            )  # fmt: skip
            meta = {**episode, "turn": i + 1, "winner_turn": k + 1}
            extra = {"weight": weight, "tags": tags, "metadata": meta}
            reply = conversation.turns[i].content
            pieces.append(fmt.sft(shown, reply, system=systems[winner], suffix=f"t{i + 1}",
                                  step=f"{winner}_turn", role=winner, extra=extra,
                                  prompt_version=version))  # fmt: skip
        if p.keep_episode:
            extra = {"metadata": episode, "tags": [*tags, "episode"]}
            pieces.append(fmt.dialogue(conversation, suffix="episode", step="episode",
                                       extra=extra, prompt_version=version))  # fmt: skip
        return pieces
