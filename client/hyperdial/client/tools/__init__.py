"""Tools over the SDK: the `hyperdial` command line, study files, plots and a local server.

They need rich and PyYAML (the `cli` extra) and, for plots, matplotlib (the `plots`
extra); the SDK one level up needs none of them.
"""
