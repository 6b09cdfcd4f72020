"""Rasa SDK actions: answers from the knowledge base, the scenario forms, pre-fill,
submission, status and hand-off. Every user-facing sentence is in domain.yml."""
