"""Tarsier as a native transformers model."""
