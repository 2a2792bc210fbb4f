"""Seed sets: the small, human-written starting points that recipes grow from."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from curation.projects.models import Project
from curation.seeds.kinds import accepts


class SeedKind(models.TextChoices):
    # The registry (curation/seeds/kinds) describes each kind; a test keeps the two in step.
    INSTRUCTION = "instruction", "Instruction"
    CONVERSATION = "conversation", "Conversation"
    TEXT = "text", "Text"
    QA = "qa", "Question and answer"
    DOCUMENT = "document", "Document"
    TOOL_SPEC = "tool_spec", "Tool / API spec"
    PERSONA = "persona", "Persona"
    LABELLED = "labelled", "Labelled example"
    PRINCIPLE = "principle", "Principle"
    WORD_LIST = "word_list", "Word list"
    WORKFLOW = "workflow", "Workflow"
    KG_TRIPLE = "kg_triple", "Knowledge-graph triple"
    ENV_TASK = "env_task", "Environment task"


class SeedSetQuerySet(models.QuerySet["SeedSet"]):
    def accepting(self, kinds: Iterable[str]) -> SeedSetQuerySet:
        """Sets whose every seed is of one of `kinds`: what a recipe that takes them can use."""
        return self.filter(kinds__contained_by=sorted(set(kinds))).exclude(kinds=[])


class SeedSet(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="seed_sets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source_filename = models.CharField(max_length=255, blank=True)
    source_format = models.CharField(max_length=16, blank=True)
    seed_count = models.PositiveIntegerField(default=0)  # kept by the import service
    # The distinct kinds of its seeds, sorted; filled at import so that forms need no scan.
    kinds = ArrayField(
        models.CharField(max_length=16, choices=SeedKind.choices), default=list, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SeedSetQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="seedset_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def accepts(self, kinds: Iterable[str]) -> bool:
        """Whether a recipe that takes `kinds` can run on this set."""
        return accepts(kinds, self.kinds)

    def get_kinds_display(self) -> list[str]:
        return [SeedKind(k).label if k in SeedKind.values else k for k in self.kinds]


class SeedQuerySet(models.QuerySet["Seed"]):
    def search(self, query: str) -> SeedQuerySet:
        # Trigram index makes icontains fast on large sets.
        return self.filter(text__icontains=query) if query else self


class Seed(models.Model):
    seed_set = models.ForeignKey(SeedSet, on_delete=models.CASCADE, related_name="seeds")
    position = models.PositiveIntegerField()  # 1-based order in the uploaded file
    kind = models.CharField(max_length=16, choices=SeedKind.choices)
    payload = models.JSONField()
    text = models.TextField()  # searchable plain text, derived from payload at import
    embedding = VectorField(dimensions=settings.SEEDBED_EMBEDDING_DIM, null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dim = models.PositiveSmallIntegerField(null=True, blank=True)
    embedded_hash = models.CharField(max_length=64, blank=True)  # of the text embedded

    objects = SeedQuerySet.as_manager()

    class Meta:
        ordering = ["seed_set", "position"]
        constraints = [
            models.UniqueConstraint(fields=["seed_set", "position"], name="seed_position_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in SeedKind]), name="seed_kind_valid"
            ),
        ]
        indexes = [
            GinIndex(name="seed_text_trgm", fields=["text"], opclasses=["gin_trgm_ops"]),
            HnswIndex(
                name="seed_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seed_set_id}#{self.position}"
