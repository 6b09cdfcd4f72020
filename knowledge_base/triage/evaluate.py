"""Per-class precision and recall of the triage heads on held-out messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge_base.triage.model import TriageModel


@dataclass(frozen=True)
class ClassScore:
    label: str
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class HeadReport:
    head: str
    classes: tuple[ClassScore, ...]

    @property
    def accuracy(self) -> float:
        support = sum(score.support for score in self.classes)
        return (
            sum(score.correct for score in self.classes) / support if support else 0.0
        )

    @property
    def macro_f1(self) -> float:
        scored = [score.f1 for score in self.classes if score.support]
        return sum(scored) / len(scored) if scored else 0.0


def score_head(
    model: TriageModel, head: str, texts: Sequence[str], labels: Sequence[str]
) -> HeadReport:
    """Compare the ``head`` prediction with ``labels`` for each text."""
    predicted = [getattr(model.predict(text), head) for text in texts]
    support = Counter(labels)
    guessed = Counter(predicted)
    correct = Counter(p for p, gold in zip(predicted, labels, strict=True) if p == gold)
    classes = sorted(set(support) | set(guessed), key=lambda label: -support[label])
    return HeadReport(
        head,
        tuple(
            ClassScore(label, support[label], guessed[label], correct[label])
            for label in classes
        ),
    )
