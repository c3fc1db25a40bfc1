"""lmms-eval task folders of tarsier-hf (indexed automatically, or with ``--include_path``)."""
