"""Persistence: the Store contract and its SQL implementation."""
