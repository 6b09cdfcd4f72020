"""Guides and FAQ in, search results out: load, tokenize, embed, index, search.

See docs/knowledge-base.md for the data schema, the score scale and the
calibration, and docs/interfaces.md for the HTTP service.
"""
