"""The web app through Flask's test client: login, password, answers, media, what the pages may not contain."""

import io

import pytest
from _sbs_helpers import NAMES
from PIL import Image

from lmms_tasks.sbs.app import create_app
from lmms_tasks.sbs.cli import main

SECRETS = (*NAMES, "a_on_left", "text_a", "text_b", "a.jsonl", "b.jsonl", "video_")


def assert_blind(html: str, study) -> None:
    for secret in SECRETS:
        assert secret not in html, f"the page leaks {secret!r}"
    assert str(study.directory) not in html


@pytest.fixture
def client_for(make_study):
    def make(password=None, **overrides):
        study, _ = make_study(**overrides)
        app = create_app(study.directory, password=password)
        return app.test_client(), study

    return make


def login(client, name="ann", password=None):
    form = {"annotator": name}
    if password is not None:
        form["password"] = password
    return client.post("/", data=form)


def test_annotating_maps_sides_to_models_and_never_shows_the_mapping(client_for):
    client, study = client_for(annotators=1)
    assert client.get("/annotate").headers["Location"].endswith("/")  # no name yet
    page = client.get("/").get_data(as_text=True)
    assert 'name="annotator"' in page and 'name="password"' not in page
    assert login(client).status_code == 302
    for position in range(len(study)):
        page = client.get("/annotate").get_data(as_text=True)
        assert f'name="position" value="{position}"' in page
        assert_blind(page, study)
        pair = study.pair(position)
        left = pair["text_a"] if pair["a_on_left"] else pair["text_b"]
        assert page.index(left) < page.index("Description B")
        side = ("left", "right", "same")[position % 3]
        response = client.post("/answer", data={"position": position, "side": side, "comment": f"c{position}"})
        assert response.status_code == 303
    assert "nothing left to annotate" in client.get("/annotate").get_data(as_text=True)
    answers = study.answers()
    assert len(answers) == len(study)
    for stored in answers:
        pair = next(p for p in study.pairs() if p["clip_id"] == stored["clip_id"])
        side = ("left", "right", "same")[pair["position"] % 3]
        expected = "same" if side == "same" else ("a" if (side == "left") == bool(pair["a_on_left"]) else "b")
        assert (stored["side"], stored["choice"], stored["comment"]) == (side, expected, f"c{pair['position']}")
    # revising an answer replaces it and shows the stored choice
    page = client.get("/annotate?position=0").get_data(as_text=True)
    assert 'id="choose-left" class="chosen"' in page and "c0" in page
    client.post("/answer", data={"position": 0, "side": "same"})
    assert len(study.answers()) == len(study)
    assert client.post("/answer", data={"position": 0, "side": "a"}).status_code == 400
    assert client.get("/annotate?position=999").status_code == 404
    for path in ("/guide", "/progress"):
        assert_blind(client.get(path).get_data(as_text=True), study)


def test_the_session_cookie_holds_no_mapping(client_for):
    client, study = client_for()
    login(client, "cookie-check")
    client.get("/annotate")
    cookie = client.get_cookie("session")
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(create_app(study.directory))
    assert serializer.loads(cookie.value) == {"annotator": "cookie-check", "authenticated": False}
    assert cookie.same_site == "Lax" and cookie.http_only


def test_password_is_required_when_set(client_for):
    client, study = client_for(password="s3cret")
    assert 'name="password"' in client.get("/").get_data(as_text=True)
    wrong = login(client, password="nope")
    assert wrong.status_code == 400 and "Wrong password" in wrong.get_data(as_text=True)
    assert client.get("/annotate").status_code == 302
    assert client.post("/answer", data={"position": 0, "side": "left"}).status_code == 302
    assert study.answers() == []
    assert login(client, password="s3cret").status_code == 302
    assert client.get("/annotate").status_code == 200


def test_media_is_served_by_position_with_ranges_and_frames_strip(client_for):
    client, study = client_for()
    login(client)
    mp4 = next(p for p in study.pairs() if p["video"].endswith(".mp4"))
    avi = next(p for p in study.pairs() if p["video"].endswith(".avi"))
    response = client.get(f"/media/{mp4['position']}", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and len(response.data) == 100
    assert "video_" not in response.headers.get("Content-Disposition", "")
    page = client.get(f"/annotate?position={avi['position']}").get_data(as_text=True)
    assert "var playable = false;" in page  # browsers don't play .avi: the strip is shown at once
    assert "var playable = true;" in client.get(f"/annotate?position={mp4['position']}").get_data(as_text=True)
    strip = client.get(f"/frames/{avi['position']}.jpg")
    assert strip.status_code == 200 and strip.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(strip.data)) as image:
        # 8 frames (the models' sampling) of 64x48 scaled to 180 px high: 240 px each, 4 px apart
        assert image.size == (8 * 240 + 7 * 4, 180)
    assert (study.directory / "frames" / f"{avi['position']}.jpg").is_file()
    assert client.get("/media/999").status_code == 404


def test_serve_refuses_other_hosts_without_a_password(make_study, capsys, monkeypatch):
    study, _ = make_study(sample=1)
    monkeypatch.delenv("TARSIER_SBS_PASSWORD", raising=False)
    assert main(["serve", str(study.directory), "--host", "0.0.0.0"]) == 1
    assert "TARSIER_SBS_PASSWORD" in capsys.readouterr().err


def test_an_undecodable_video_gives_404_without_its_path(client_for, tmp_path):
    client, study = client_for()
    login(client)
    broken = tmp_path / "secret_model_dir_clip.mp4"
    broken.write_bytes(b"not a video at all")
    study._db.execute("UPDATE pairs SET video = ? WHERE position = 0", (str(broken),))
    response = client.get("/frames/0.jpg")
    assert response.status_code == 404
    assert "secret_model_dir" not in response.get_data(as_text=True)
    assert not (study.directory / "frames" / "0.jpg").exists()
