"""Run the catalog on one backend and write the self-describing dump (one env, one file)."""
