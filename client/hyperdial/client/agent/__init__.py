"""`hyperdial agent`: runs any command as a trainer; see `tools/agent_cli.py` and the README."""
