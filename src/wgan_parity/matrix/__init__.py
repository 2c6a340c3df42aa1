"""The environment matrix and its runner: the env table, venvs, locks, cache keys,
progress and tox generation. Standard library only: noxfile.py imports it before any env exists."""
