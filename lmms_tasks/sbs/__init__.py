"""Blind side-by-side comparison of two models' video descriptions (the Tarsier paper's human evaluation).

``create`` (make a study), ``app`` (the annotation web app), ``report`` / ``stats`` (rates, advantage, bootstrap CI,
agreement), ``annotator`` (the LLM annotator through the AutoDQ judge client); ``cli`` is ``tarsier-sbs``.
"""

from .store import Study, StudyError

__all__ = ["Study", "StudyError"]
