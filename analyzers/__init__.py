"""Pure analysis of a Python project: inputs in, facts out.

Nothing in this package runs doit or pytest, or reads or writes doit-scout's own state.
"""
