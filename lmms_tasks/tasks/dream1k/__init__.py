"""The ``dream1k`` lmms-eval task: DREAM-1K video descriptions scored with AutoDQ."""
