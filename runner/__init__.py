"""doit-scout's orchestration: doit tasks and commands, state, execution, reporting, config."""
