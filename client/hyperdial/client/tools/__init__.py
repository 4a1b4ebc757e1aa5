"""Tools over the SDK: the `hyperdial` command line, study files, plots and a local server.

They need rich, PyYAML and matplotlib (the `cli` extra); the SDK one level up
needs none of them.
"""
