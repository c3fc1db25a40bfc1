"""The real web app (``tarsier-sbs serve`` in a subprocess) driven by a real headless Chromium through Selenium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``); skipped, with
that reason, where they are not installed. Set ``TARSIER_SBS_SCREENSHOT=PATH`` to also save the README screenshot.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _sbs_helpers import NAMES

from lmms_tasks.sbs.store import Study

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="no headless browser: install Debian's chromium and chromium-driver "
        "(apt-get install -y chromium chromium-driver)",
    ),
]
REPO = Path(__file__).resolve().parents[2]
LEAKS = (*NAMES, "a_on_left", "text_a", "text_b", "a.jsonl", "b.jsonl", "video_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(study_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("TARSIER_SBS_PASSWORD", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "lmms_tasks.sbs.cli", "serve", str(study_dir), "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/guide", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    pytest.fail(f"the server did not answer within 240 s: {log.read_text()}")


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,900",
        "--mute-audio",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


def page(driver, study) -> str:
    """The page source, checked blind: no model name, no file name, nothing of the A/B mapping."""
    source = driver.page_source
    for leak in LEAKS:
        assert leak not in source, f"{driver.current_url} leaks {leak!r}"
    assert str(study.directory) not in source
    return source


def position_shown(driver, expected: int | None = None, timeout: float = 60) -> int | None:
    """The pair position of the page shown; with ``expected``, waits (through page loads) until it is that one."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            shown = int(driver.find_element("css selector", 'input[name="position"]').get_attribute("value"))
        except (NoSuchElementException, StaleElementReferenceException):
            shown = None
        if expected is None or shown == expected:
            return shown
        assert time.monotonic() < deadline, f"expected pair {expected}, the page shows {shown}"
        time.sleep(0.1)


def show_frames(driver, timeout: float = 60) -> int:
    """Click "Show the frames the models saw", wait for the strip to load; returns its natural height."""
    driver.find_element("id", "show-frames").click()
    strip = driver.find_element("id", "frames")
    deadline = time.monotonic() + timeout
    while not driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", strip):
        assert time.monotonic() < deadline, "the frames strip did not load"
        time.sleep(0.2)
    return driver.execute_script("return arguments[0].naturalHeight", strip)


def wait_for_id(driver, element_id: str, timeout: float = 60):
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located(("id", element_id)))


def test_annotate_reload_resume_kill_and_restart(make_study, browser, tmp_path):
    study, _ = make_study(sample=5, annotators=2)
    port, log = free_port(), tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    server = start_server(study.directory, port, log)
    clicked = {}  # position -> side
    try:
        browser.get(base + "/")
        page(browser, study)
        browser.find_element("id", "name").send_keys("ann")
        browser.find_element("id", "start").click()
        assert wait_for_id(browser, "annotator").text == "ann"

        # pair 0: look at the frames the models saw, then click "A is better"
        assert position_shown(browser, 0) == 0
        page(browser, study)
        assert show_frames(browser) == 180
        browser.find_element("id", "choose-left").click()
        clicked[0] = "left"

        # pair 1: the keyboard shortcut "b" (B is better)
        assert position_shown(browser, 1) == 1
        page(browser, study)
        browser.find_element("tag name", "body").send_keys("b")
        clicked[1] = "right"

        # pair 2: a comment (typing "a" there is text, not a shortcut), then "same" with the key "3"
        assert position_shown(browser, 2) == 2
        comment = browser.find_element("id", "comment")
        comment.send_keys("a both miss the door")
        assert position_shown(browser, 2) == 2
        browser.find_element("tag name", "body").send_keys("3")
        clicked[2] = "same"

        # reload: no answer is posted twice, the next pair is still pair 3
        assert position_shown(browser, 3) == 3
        browser.refresh()
        assert position_shown(browser, 3) == 3
        assert "you have answered 3" in page(browser, study)
        show_frames(browser)
        screenshot = tmp_path / "sbs_annotate.png"
        assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
        if os.environ.get("TARSIER_SBS_SCREENSHOT"):
            shutil.copyfile(screenshot, os.environ["TARSIER_SBS_SCREENSHOT"])

        # pair 3 answered, then the server is killed (SIGKILL) as soon as the answer is acknowledged
        browser.find_element("id", "choose-right").click()
        clicked[3] = "right"
        assert position_shown(browser, 4) == 4
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)

    with Study(study.directory) as reopened:
        assert len(reopened.answers()) == 4

    server = start_server(study.directory, port, log)
    try:
        # the same browser session resumes at the first unanswered pair
        browser.get(base + "/annotate")
        assert position_shown(browser, 4) == 4
        assert "you have answered 4" in page(browser, study)
        browser.find_element("id", "choose-left").click()
        clicked[4] = "left"
        wait_for_id(browser, "done")
        assert "nothing left to annotate" in page(browser, study)

        # a second annotator starts from the beginning; progress counts both
        browser.delete_all_cookies()
        browser.get(base + "/")
        browser.find_element("id", "name").send_keys("bob")
        browser.find_element("id", "start").click()
        assert position_shown(browser, 0) == 0
        browser.find_element("id", "choose-same").click()
        position_shown(browser, 1)
        browser.get(base + "/progress")
        assert "0 of 5 pairs have 2 answers" not in page(browser, study)
        assert browser.find_element("id", "complete").text.startswith("1 of 5 pairs")
    finally:
        server.kill()
        server.wait(timeout=30)

    with Study(study.directory) as reopened:
        answers = reopened.answers()
        pairs = {pair["clip_id"]: pair for pair in reopened.pairs()}
    mine = [answer for answer in answers if answer["annotator"] == "ann"]
    assert len(mine) == 5 and len({answer["clip_id"] for answer in mine}) == 5  # every answer, none twice
    for answer in mine:
        pair = pairs[answer["clip_id"]]
        side = clicked[pair["position"]]
        assert answer["side"] == side
        expected = "same" if side == "same" else ("a" if (side == "left") == bool(pair["a_on_left"]) else "b")
        assert answer["choice"] == expected
        assert answer["comment"] == ("a both miss the door" if pair["position"] == 2 else "")
    assert [(a["annotator"], pairs[a["clip_id"]]["position"]) for a in answers if a["annotator"] == "bob"] == [
        ("bob", 0)
    ]
