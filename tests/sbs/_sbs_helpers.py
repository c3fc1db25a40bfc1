"""Shared constants and helpers of the side-by-side tests (a uniquely named module: every test folder has a
``conftest``, so importing names from ``conftest`` would pick whichever was imported first)."""

NAMES = ("ZebraNet-34B", "QuokkaVLM-7B")  # distinctive: a page that leaks them is easy to catch
SOURCES = ("DREAM/live_action", "DREAM/animation")
CLIP_IDS = [str(i) for i in range(1, 9)]


def source_of(clip_id: str) -> str:
    return SOURCES[int(clip_id) % 2]


def answer(study, annotator: str, clip_id: str, choice: str) -> None:
    """Answer in model terms (``a`` / ``b`` / ``same``) by clicking the side the study shows that model on."""
    pair = next(p for p in study.pairs() if p["clip_id"] == clip_id)
    if choice == "same":
        side = "same"
    else:
        side = "left" if (choice == "a") == bool(pair["a_on_left"]) else "right"
    stored = study.record_answer(annotator, pair["position"], side)
    assert stored["choice"] == choice
