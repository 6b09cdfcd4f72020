"""Triage of citizen messages: a question (咨询), a complaint or request for
help (投诉/求助) or a suggestion (建言), and its topic (城建, 交通, …).

``TriageModel.load(folder, tokenizer).predict(text)``; training and the
held-out evaluation: ``python -m knowledge_base.triage`` (docs/triage.md).
"""

from __future__ import annotations

from knowledge_base.triage.data import KINDS, TOPICS, LabelledMessage
from knowledge_base.triage.model import Triage, TriageModel

__all__ = ["KINDS", "TOPICS", "LabelledMessage", "Triage", "TriageModel"]
