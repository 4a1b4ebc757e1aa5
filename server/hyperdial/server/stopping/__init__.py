"""Server-side early stopping rules over intermediate values."""
