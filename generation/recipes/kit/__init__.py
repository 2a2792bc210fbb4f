"""The recipe kit: what every recipe is built from (see README "Writing a recipe")."""

from generation.recipes.kit import fmt
from generation.recipes.kit.fmt import Out, Piece
from generation.recipes.kit.item import Drop, Fatal, Item
from generation.recipes.kit.recipe import JUDGE, POLICY, Meta, Need, Recipe, Role, register
from generation.recipes.kit.source import Source

__all__ = [
    "JUDGE",
    "POLICY",
    "Drop",
    "Fatal",
    "Item",
    "Meta",
    "Need",
    "Out",
    "Piece",
    "Recipe",
    "Role",
    "Source",
    "fmt",
    "register",
]
