"""Suggestion algorithms behind one protocol; see `base.Suggester`."""
