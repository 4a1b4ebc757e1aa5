"""Glue for training frameworks; each module needs its framework (an optional extra)."""
