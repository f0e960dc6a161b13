"""What running code was observed to read, as the pytest plugin records it and the unit graph
reads it: a project path, or one of these."""

DIR_PREFIX = "dir:"  # `dir:<folder>`: code listed a folder
MODULE_PREFIX = "module:"  # `module:<name>`: code ran `python -m <name>`
# `text:<path>`: code read a project module's source as text (a text tool a test started, `open`
# outside the import system): its bytes count, comments included.
TEXT_PREFIX = "text:"
# `literals:<path>`: a reader took the constants of a project module's source and nothing else of
# it (Hypothesis, analyzers.literals): its constants count, not its comments or docstrings.
LITERALS_PREFIX = "literals:"
# Code started a child process: it may read any config file (a type checker a test runs reads its
# settings), so the unit depends on every config file whole, not only on what tests read of them.
CONFIG_TARGET = "config:"

# What read it: a project file (its module-level code), or `path::qualname`, a function body of it.
BODY_SEPARATOR = "::"
