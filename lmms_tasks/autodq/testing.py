"""A local OpenAI-compatible judge for tests and benchmarks: a real HTTP server on 127.0.0.1.

``LocalJudgeServer`` answers ``POST /v1/chat/completions`` (the protocol the ``openai`` client speaks) with
replies computed from the request, so the same request always gets the same reply:

- an event-extraction prompt (``prompts/extract_events.txt``) gets ``{"events": [...]}`` with one event per
  sentence of the description (split at ``.``, stripped, empty pieces dropped; no sentence means no event);
- an entailment prompt (``prompts/judge_entailment.txt``) gets one item per event, in order: ``entailment`` when
  the event (lowercased, trailing ``.`` dropped) occurs in the description, else ``contradiction`` when the event
  contains the word ``not``, else ``neutral``;
- a Video-ChatGPT QA prompt (``lmms_tasks/zeroshot/prompts/video_chatgpt_qa_user.txt``, kind
  ``"video_chatgpt_qa"``) gets ``{'pred': 'yes', 'score': 4}`` when the correct answer occurs in the predicted
  answer (both as the prompt holds them, i.e. lower-cased), else ``{'pred': 'no', 'score': 1}``.

Faults are injected with ``inject(fault, times, kind=None, match=None)``: the next ``times`` requests of that
``kind`` (``"extract_events"`` / ``"judge_entailment"`` / ``"video_chatgpt_qa"``) whose prompt contains ``match``
get the fault:

- ``"429"`` / ``"500"``: that HTTP status (with ``retry-after-ms: 10``); the client retries;
- ``"timeout"``: the reply is held back ``timeout_delay`` seconds (set the client's timeout below it);
- ``"malformed"``: a reply that is not a dict/JSON even after the released normalisation;
- ``"wrong_count"``: an entailment reply with one judged event too few (an extraction reply whose ``events`` is a
  string);
- ``"bad_label"``: an entailment reply with the label ``"maybe"``;
- ``"fenced"``: a *valid* reply wrapped the way chat models do (```` ```json ```` fence, trailing commas,
  ``Entailment`` capitalised), which the released normalisation must accept;
- ``"string_score"`` / ``"capitalised"`` (QA prompts): the score as a string (``'4'``) / ``'Yes'`` instead of
  ``'yes'``, both of which the released QA check rejects.

Prompts of other kinds (an LLM annotator's, e.g. ``lmms_tasks.sbs``) are answered by ``other_reply(prompt)`` when
given (``lmms_tasks.sbs.testing.prefer_first`` is a judge that always prefers the first description), and faults
apply to them too (``kind="unknown"``).

``calls`` counts the chat-completion requests received; ``requests`` records each one (kind, prompt hash, fault,
temperature, message roles); ``max_in_flight`` is the most requests it was answering at once. Every request first
waits ``latency`` seconds. ``GET /stats`` returns the counts as JSON, which is how a server started in another process
(``python -m lmms_tasks.autodq.testing``) is read.
"""

import argparse
import ast
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lmms_tasks.zeroshot.open_qa import USER_TEMPLATE as QA_USER_TEMPLATE

from .prompts import EXTRACTION_TEMPLATE, JUDGEMENT_TEMPLATE

FAULTS = ("429", "500", "timeout", "malformed", "wrong_count", "bad_label", "fenced", "string_score", "capitalised")
_EXTRACTION_HEAD = EXTRACTION_TEMPLATE.split("${caption}")[0]
_EXTRACTION_TAIL = EXTRACTION_TEMPLATE.split("${caption}")[1]
_JUDGEMENT_HEAD, _JUDGEMENT_REST = JUDGEMENT_TEMPLATE.split("${description}")
_JUDGEMENT_MIDDLE, _JUDGEMENT_TAIL = _JUDGEMENT_REST.split("${events}")
_QA_HEAD = QA_USER_TEMPLATE.split("${question}")[0]
_QA_ANSWER = QA_USER_TEMPLATE.split("${question}")[1].split("${answer}")[0]
_QA_PREDICTION = QA_USER_TEMPLATE.split("${answer}")[1].split("${prediction}")[0]
_QA_TAIL = QA_USER_TEMPLATE.split("${prediction}")[1]


def prompt_kind(prompt: str) -> str:
    if prompt.startswith(_EXTRACTION_HEAD) and prompt.endswith(_EXTRACTION_TAIL):
        return "extract_events"
    if prompt.startswith(_JUDGEMENT_HEAD) and prompt.endswith(_JUDGEMENT_TAIL):
        return "judge_entailment"
    if prompt.startswith(_QA_HEAD) and prompt.endswith(_QA_TAIL):
        return "video_chatgpt_qa"
    return "unknown"


def judge_answer(prompt: str) -> dict:
    """The rule for a Video-ChatGPT QA prompt: ``yes``/4 when the answer occurs in the prediction, else ``no``/1."""
    body = prompt[len(_QA_HEAD) : len(prompt) - len(_QA_TAIL)]
    rest = body.split(_QA_ANSWER, 1)[1]
    answer, prediction = rest.split(_QA_PREDICTION, 1)
    found = bool(answer.strip()) and answer.strip() in prediction
    return {"pred": "yes", "score": 4} if found else {"pred": "no", "score": 1}


def extract_events(prompt: str) -> list[str]:
    caption = prompt[len(_EXTRACTION_HEAD) : len(prompt) - len(_EXTRACTION_TAIL)]
    return [sentence.strip() for sentence in caption.split(".") if sentence.strip()]


def judge_events(prompt: str) -> list[dict]:
    body = prompt[len(_JUDGEMENT_HEAD) : len(prompt) - len(_JUDGEMENT_TAIL)]
    description, _, events_text = body.rpartition(_JUDGEMENT_MIDDLE)
    events = ast.literal_eval(events_text)
    judged = []
    for event in events:
        needle = event.lower().strip().rstrip(".").strip()
        if needle and needle in description.lower():
            label = "entailment"
        elif re.search(r"\bnot\b", event.lower()):
            label = "contradiction"
        else:
            label = "neutral"
        judged.append({"event": event, "relationship": label, "reason": f"rule: {label}"})
    return judged


def reply_for(prompt: str, fault: str | None) -> str:
    kind = prompt_kind(prompt)
    if fault == "malformed":
        return "Sure! Here is what I found: events => [entailment"
    if kind == "extract_events":
        events = extract_events(prompt)
        if fault == "wrong_count":
            return json.dumps({"events": "; ".join(events)})
        if fault == "fenced":
            return "```python\n" + repr({"events": events}) + "\n```"
        return json.dumps({"events": events})
    if kind == "judge_entailment":
        judged = judge_events(prompt)
        if fault == "wrong_count":
            judged = judged[:-1]
        if fault == "bad_label":
            judged = [{**item, "relationship": "maybe"} for item in judged]
        if fault == "fenced":
            items = ",\n".join(
                json.dumps({**item, "relationship": item["relationship"].capitalize()}) for item in judged
            )
            return '```json\n{\n  "events": [\n' + items + ",\n  ]\n}\n```"
        return json.dumps({"events": judged}, indent=2)
    if kind == "video_chatgpt_qa":
        judged = judge_answer(prompt)
        if fault == "string_score":
            judged["score"] = str(judged["score"])
        if fault == "capitalised":
            judged["pred"] = judged["pred"].capitalize()
        return repr(judged)
    return "I only answer AutoDQ and Video-ChatGPT QA prompts."


class LocalJudgeServer:
    """The server; use as a context manager or call ``start()`` / ``stop()``."""

    def __init__(
        self,
        latency: float = 0.0,
        timeout_delay: float = 3.0,
        api_key: str | None = None,
        models: set[str] | None = None,
        other_reply: Callable[[str], str] | None = None,
    ):
        self.latency = latency
        self.timeout_delay = timeout_delay
        self.api_key = api_key
        self.models = models
        self.other_reply = other_reply
        self.requests: list[dict] = []
        self._faults: list[dict] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def inject(self, fault: str, times: int = 1, kind: str | None = None, match: str | None = None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")
        with self._lock:
            self._faults.append({"fault": fault, "left": times, "kind": kind, "match": match})

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self.max_in_flight = 0

    def stats(self) -> dict:
        with self._lock:
            return {
                "calls": len(self.requests),
                "faults": sum(1 for request in self.requests if request["fault"]),
                "max_in_flight": self.max_in_flight,
            }

    def start(self) -> "LocalJudgeServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _take_fault(self, kind: str, prompt: str, temperature, roles: list | None = None) -> str | None:
        with self._lock:
            fault = None
            for rule in self._faults:
                if (
                    rule["left"] > 0
                    and rule["kind"] in (None, kind)
                    and (rule["match"] is None or rule["match"] in prompt)
                ):
                    rule["left"] -= 1
                    fault = rule["fault"]
                    break
            self.requests.append(
                {
                    "kind": kind,
                    "prompt_sha": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
                    "fault": fault,
                    "temperature": temperature,
                    "roles": roles,
                }
            )
            return fault


def _handler_for(server: LocalJudgeServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed ACKs
            # add ~40 ms to every reply.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.rstrip("/").endswith("/stats"):
                self._send(200, server.stats())
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                self._send(
                    401,
                    {
                        "error": {
                            "message": "Incorrect API key provided",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    },
                )
                return
            request = json.loads(body)
            if server.models is not None and request.get("model") not in server.models:
                self._send(
                    404,
                    {
                        "error": {
                            "message": f"The model `{request.get('model')}` does not exist.",
                            "type": "NotFoundError",
                        }
                    },
                )
                return
            prompt = request["messages"][-1]["content"]
            roles = [message.get("role") for message in request["messages"]]
            fault = server._take_fault(prompt_kind(prompt), prompt, request.get("temperature"), roles)
            server._enter()
            try:
                self._answer(request, prompt, fault, body)
            finally:
                server._leave()

        def _answer(self, request: dict, prompt: str, fault: str | None, body: bytes):
            time.sleep(server.latency)
            if fault in ("429", "500"):
                self._send(
                    int(fault),
                    {"error": {"message": f"injected {fault}", "type": "server_error"}},
                    {"retry-after-ms": "10"},
                )
                return
            if fault == "timeout":
                time.sleep(server.timeout_delay)
            completion = {
                "id": "chatcmpl-" + hashlib.sha256(body).hexdigest()[:24],
                "object": "chat.completion",
                "created": 0,
                "model": request.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self._content(prompt, fault)},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": 1,
                    "total_tokens": len(prompt.split()) + 1,
                },
            }
            self._send(200, completion)

        def _content(self, prompt: str, fault: str | None) -> str:
            if server.other_reply is not None and fault is None and prompt_kind(prompt) == "unknown":
                return server.other_reply(prompt)
            return reply_for(prompt, fault)

        def _send(self, status: int, payload: dict, headers: dict | None = None):
            data = json.dumps(payload).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout); nothing to answer

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the deterministic local AutoDQ judge until interrupted.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = parser.parse_args(argv)
    server = LocalJudgeServer(latency=args.latency).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
