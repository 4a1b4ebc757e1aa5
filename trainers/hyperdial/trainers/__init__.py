"""Worker processes: evaluate suggested configurations and report them."""
