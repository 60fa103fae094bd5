"""Local runtime: the embedded stand-ins (`services/`) and the runner hosting the functions on 127.0.0.1."""
