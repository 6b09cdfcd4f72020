"""Coverage-guided fuzzing (atheris) of the parsers that take outside input.

``make fuzz`` runs every target in :mod:`fuzz.targets` for a bounded number
of inputs and prints the cases run and the findings per parser.
"""
