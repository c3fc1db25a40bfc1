"""The annotation web app (``tarsier-sbs serve``): Flask, server-rendered Jinja2 templates (package data), no build.

Pages: ``/`` (the annotator's name, and the study password when one is set), ``/annotate`` (the next pair, or
``?position=N`` to revise an own earlier answer), ``POST /answer``, ``/media/N`` (the clip's file, with HTTP range
requests), ``/frames/N.jpg`` (the frames the models saw, as one strip), ``/guide``, ``/progress``.

What reaches the browser: the two descriptions as "Description A" (left) and "Description B" (right), the clip id,
and URLs by pair position. Never the model names, the predictions files, the video path, or which model is on
which side: the form posts the clicked *side*, and the server maps it to a model (``store.side_to_choice``). The
session cookie (signed with the study's secret, ``SameSite=Lax``) holds only the annotator's name and whether the
password was given.

Every answer is stored in its own SQLite transaction before the reply is sent (then the browser is redirected, so
a reload never posts twice), so killing the server loses nothing that was acknowledged.
"""

import hmac
import logging
import threading
from pathlib import Path

from flask import Flask, abort, redirect, render_template, request, send_file, session, url_for

from tarsier_hf.video_io import MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, MediaError, load_frames, media_kind

from .store import Study, StudyError

logger = logging.getLogger(__name__)

PASSWORD_ENV = "TARSIER_SBS_PASSWORD"
# What browsers play in a <video> element; other containers (.avi, .mkv, .wmv) show the frames strip instead.
BROWSER_PLAYABLE = frozenset({".mp4", ".webm", ".mov"}) & VIDEO_EXTENSIONS
STRIP_HEIGHT = 180
MAX_NAME = 64


def frames_strip(video: str | Path, num_frames: int, height: int = STRIP_HEIGHT) -> bytes:
    """The ``num_frames`` frames the models saw (``video_io.load_frames``, the inference sampling), side by side,
    each scaled to ``height`` pixels, as JPEG bytes. Raises ``MediaError`` when the file cannot be decoded."""
    import io

    from PIL import Image

    frames = load_frames(video, num_frames)
    tiles = []
    for frame in frames:
        image = Image.fromarray(frame)
        tiles.append(image.resize((max(1, round(image.width * height / image.height)), height)))
    strip = Image.new("RGB", (sum(tile.width for tile in tiles) + 4 * (len(tiles) - 1), height), "black")
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width + 4
    buffer = io.BytesIO()
    strip.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def create_app(study_dir: str | Path, password: str | None = None) -> Flask:
    """The Flask app over the study in ``study_dir``; ``password`` (if given) is asked once per browser session."""
    study = Study(study_dir)
    lock = threading.Lock()  # one SQLite connection, shared by the server's threads one at a time
    frames_dir = study.directory / "frames"
    num_frames = int(study.meta("num_frames"))

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=study.meta("secret"),
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=64 * 1024,
    )

    def annotator() -> str | None:
        return session.get("annotator")

    @app.context_processor
    def common():
        return {"annotator": annotator()}

    @app.before_request
    def require_login():
        if request.endpoint in ("login", "guide", "static"):
            return None
        if password is not None and not session.get("authenticated"):
            return redirect(url_for("login"))
        if annotator() is None and request.endpoint not in ("progress",):
            return redirect(url_for("login"))
        return None

    @app.route("/", methods=["GET", "POST"])
    def login():
        if request.method == "GET":
            if annotator() and (password is None or session.get("authenticated")):
                return redirect(url_for("annotate"))
            return render_template("login.html", needs_password=password is not None, name=None, error=None)
        name = " ".join(request.form.get("annotator", "").split())
        error = None
        if password is not None and not hmac.compare_digest(
            request.form.get("password", "").encode("utf-8"), password.encode("utf-8")
        ):
            error = "Wrong password."
        elif not name or len(name) > MAX_NAME:
            error = f"Please enter a name of 1 to {MAX_NAME} characters."
        if error:
            return render_template("login.html", needs_password=password is not None, name=name, error=error), 400
        session.clear()
        session["annotator"] = name
        session["authenticated"] = password is not None
        return redirect(url_for("annotate"))

    @app.route("/logout")
    def logout():
        session.pop("annotator", None)
        return redirect(url_for("login"))

    @app.route("/guide")
    def guide():
        return render_template("guide.html", guide=study.meta("guide"))

    @app.route("/progress")
    def progress():
        with lock:
            return render_template("progress.html", progress=study.progress())

    @app.route("/annotate")
    def annotate():
        name = annotator()
        with lock:
            total = len(study)
            mine = study.progress()["per_annotator"].get(name, 0)
            previous = study.last_answered_position(name)
            requested = request.args.get("position", type=int)
            if requested is not None:
                if not 0 <= requested < total:
                    abort(404)
                position = requested
            else:
                position = study.next_position(name)
            if position is None:
                return render_template("done.html", mine=mine, total=total, previous=previous)
            pair = study.pair(position)
            stored = study.answer_of(name, pair["clip_id"])
        left, right = (pair["text_a"], pair["text_b"]) if pair["a_on_left"] else (pair["text_b"], pair["text_a"])
        media, playable = None, False
        if pair["video"]:
            suffix = Path(pair["video"]).suffix.lower()
            media = "video" if media_kind(pair["video"]) == "video" else "still"
            playable = media == "still" or suffix in BROWSER_PLAYABLE
        return render_template(
            "annotate.html",
            position=position,
            number=position + 1,
            total=total,
            mine=mine,
            previous=previous,
            clip_id=pair["clip_id"],
            left=left,
            right=right,
            media=media,
            playable=playable,
            frames=bool(pair["video"]) and media == "video",
            chosen=stored["side"] if stored else None,
            comment=stored["comment"] if stored else "",
        )

    @app.route("/answer", methods=["POST"])
    def answer():
        position = request.form.get("position", type=int)
        side = request.form.get("side", "")
        if position is None:
            abort(400, "no pair position in the answer")
        with lock:
            try:
                study.record_answer(annotator(), position, side, request.form.get("comment", "")[:2000])
            except StudyError as error:
                abort(400, str(error))
        return redirect(url_for("annotate"), code=303)

    def video_of(position: int) -> Path:
        with lock:
            try:
                pair = study.pair(position)
            except StudyError:
                abort(404)
        if not pair["video"] or Path(pair["video"]).suffix.lower() not in MEDIA_EXTENSIONS:
            abort(404)
        path = Path(pair["video"])
        if not path.is_file():
            abort(404)
        return path

    @app.route("/media/<int:position>")
    def media(position: int):
        # A generic name: the file's own name is not sent (it could say which model or source it came from).
        path = video_of(position)
        return send_file(path, conditional=True, download_name=f"clip{path.suffix}")

    @app.route("/frames/<int:position>.jpg")
    def frames(position: int):
        path = video_of(position)
        cached = frames_dir / f"{position}.jpg"
        if not cached.is_file():
            try:
                data = frames_strip(path, num_frames)
            except MediaError as error:
                # The message names the file: logged here, not sent to the browser.
                logger.warning("frames of pair %d: %s", position, error)
                abort(404)
            frames_dir.mkdir(exist_ok=True)
            partial = cached.with_suffix(".tmp")
            partial.write_bytes(data)
            partial.replace(cached)
        return send_file(cached, mimetype="image/jpeg")

    return app
