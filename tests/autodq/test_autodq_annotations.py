"""Reading DREAM-1K annotations: Tarsier's jsonl (the committed real subset; the full file with the shared data),
the Hub's metadata.json layout, bad input."""

import json

import pytest

from lmms_tasks.autodq import AnnotationError, load_dream1k_annotations


def test_real_annotations(annotations):
    assert len(annotations) == 50
    first = annotations["1"]
    assert first["source"] == "DREAM/movie_animation"
    assert first["reference"].startswith("A character emerges from smoke and fire, then half knelt on the ground")
    assert first["events"][0] == "A character emerges from smoke and fire."
    assert (first["n_subjects"], first["n_shots"], first["n_events"], first["duration"]) == (4, 2, 5, 5.09)
    empty = [idx for idx, annotation in annotations.items() if annotation["events"] == []]
    assert empty == ["649", "804", "980", "981"]
    assert all(annotations[idx]["n_events"] == 0 for idx in empty)


@pytest.mark.shared_data
def test_the_full_file_has_1000_clips_and_the_same_four_without_events(full_dream1k_path, annotations):
    full = load_dream1k_annotations(full_dream1k_path)
    assert len(full) == 1000
    assert [idx for idx, annotation in full.items() if annotation["events"] == []] == ["649", "804", "980", "981"]
    assert all(full[idx] == annotation for idx, annotation in annotations.items())  # the subset is verbatim


def test_hub_metadata_layout_with_string_fields(tmp_path):
    path = tmp_path / "metadata.json"
    path.write_text(
        json.dumps(
            [
                {
                    "idx": "7",
                    "video_file": "video/7.mp4",
                    "source": "DREAM/youtube",
                    "duration": "8.0",
                    "description": "A man waves.",
                    "events": '["A man waves."]',
                    "n_subjects": "1",
                    "n_shots": "1",
                    "n_events": "1",
                },
                {"idx": "8", "video_file": "video/8.mp4", "source": "DREAM/youtube", "description": "Nothing moves."},
            ]
        )
    )
    annotations = load_dream1k_annotations(path)
    assert annotations["7"] == {
        "idx": "7",
        "source": "DREAM/youtube",
        "reference": "A man waves.",
        "events": ["A man waves."],
        "n_subjects": 1,
        "n_shots": 1,
        "n_events": 1,
        "duration": 8.0,
        "video_file": "video/7.mp4",
    }
    # no events: kept as None so that the scorer extracts them from the reference
    assert annotations["8"]["events"] is None and annotations["8"]["n_events"] is None


def test_path_from_the_environment(monkeypatch, dream1k_path):
    monkeypatch.setenv("TARSIER_DREAM1K_ANNOTATIONS", str(dream1k_path))
    assert load_dream1k_annotations() == load_dream1k_annotations(dream1k_path)
    monkeypatch.delenv("TARSIER_DREAM1K_ANNOTATIONS")
    with pytest.raises(AnnotationError, match="TARSIER_DREAM1K_ANNOTATIONS"):
        load_dream1k_annotations()


@pytest.mark.parametrize(
    "lines, problem",
    [
        (['{"idx": 1, "source": "s", "description": "d"}', "{not json"], r":2: not valid JSON"),
        (
            ['{"idx": 1, "source": "s", "description": "d"}', '{"idx": 1, "source": "s", "description": "e"}'],
            r":2: duplicate clip id '1'",
        ),
        (['{"idx": 1, "description": "d"}'], r":1: no source"),
        (['{"idx": 1, "source": "s"}'], r":1: no reference description"),
        (
            ['{"idx": 1, "source": "s", "description": "d", "events": [1, 2]}'],
            r":1: 'events' must be a list of strings",
        ),
        (['{"idx": 1, "source": "s", "description": "d", "n_events": "many"}'], r":1: n_events='many' is not a number"),
        (['{"idx": 1, "dataset": "s", "messages": [{"role": "user", "content": []}]}'], r":1: no assistant message"),
    ],
)
def test_bad_annotations_name_file_and_line(tmp_path, lines, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=problem) as raised:
        load_dream1k_annotations(path)
    assert str(path) in str(raised.value)


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match="not found"):
        load_dream1k_annotations(tmp_path / "nope.jsonl")
