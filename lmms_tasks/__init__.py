"""lmms-eval plugin for Tarsier: the ``tarsier`` model and the DREAM-1K / video QA / captioning tasks."""
