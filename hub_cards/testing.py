"""A local Hugging Face Hub for tests: a real HTTP server on 127.0.0.1 answering the endpoints that
``huggingface_hub`` (and ``datasets`` through it) call to create repos, commit files and read them back.

Point a client at it with ``HF_ENDPOINT=server.endpoint`` (read when ``huggingface_hub`` is imported, so set it in
the environment of a subprocess) or ``HfApi(endpoint=server.endpoint)``. Repos, branches and files live in memory.

Endpoints (the paths and payloads of ``huggingface_hub/hf_api.py``, ``_commit_api.py`` and ``file_download.py``):

- ``POST /api/repos/create`` (``{"name", "organization", "type", "visibility"/"private"}``; 409 when it exists)
- ``POST /api/validate-yaml`` (``{"content", "repoType"}``): the README's YAML block must be a mapping that
  ``ModelCardData`` / ``DatasetCardData`` parse strictly, with string ``license`` / ``pipeline_tag`` /
  ``library_name``, string lists of ``tags``, and dataset ``configs`` with ``config_name`` and ``data_files``;
  400 with ``{"errors": [{"message"}]}`` otherwise
- ``POST /api/{type}s/{repo}/preupload/{rev}``: every file is ``"regular"`` (sent inline in the commit; no LFS or
  Xet storage here), with the git blob oid of the file already at that path so unchanged files are skipped
- ``POST /api/{type}s/{repo}/commit/{rev}`` (NDJSON: ``header``, ``file`` base64, ``deletedFile``,
  ``deletedFolder``; ``?create_pr=1`` opens ``refs/pr/N``); ``lfsFile`` lines are refused with 400
- ``POST /api/{type}s/{repo}/discussions`` (pull requests, as ``upload_folder(create_pr=True)`` opens them) and
  ``GET .../discussions/{num}``
- ``GET /api/{type}s/{repo}[/revision/{rev}]`` (repo info with ``sha`` and ``siblings``), ``GET .../refs``,
  ``GET .../tree/{rev}[/{path}]`` (``recursive``), ``POST .../paths-info/{rev}``
- ``HEAD``/``GET /[datasets/]{repo}/resolve/{rev}/{path}`` (``X-Repo-Commit``, ``ETag``, ``Content-Length``)
- ``POST /api/{type}s/{repo}/branch/{name}``, ``PUT /api/{type}s/{repo}/settings`` (``gated``, visibility)
- ``GET /api/whoami-v2``

Authentication: with ``tokens`` given, writes and private repos need ``Authorization: Bearer <token>`` with one of
them (401 otherwise); tokens in ``read_only_tokens`` get 403 on writes. Faults: ``inject(status, times=1,
method=None, path_contains=None)`` makes the next matching requests fail with that status (JSON error body, as the
Hub). ``requests`` records ``(method, path, authenticated)`` of every request; ``commits(repo_id, repo_type)``
and ``files(repo_id, repo_type, revision)`` show what was committed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

_API_REPO = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+?)(?:/(.*))?$")
_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_blob_oid(content: bytes) -> str:
    """The git oid of a blob (what the Hub reports for regular files and ``huggingface_hub`` compares against)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class _Commit:
    oid: str
    title: str
    description: str
    files: dict[str, bytes]  # the full tree after the commit
    changed: list[str]
    deleted: list[str]
    date: str


@dataclass
class _Repo:
    repo_id: str
    repo_type: str
    private: bool
    branches: dict[str, list[_Commit]] = field(default_factory=dict)
    prs: int = 0
    settings: dict = field(default_factory=dict)

    def head(self, revision: str) -> _Commit | None:
        revision = revision.removeprefix("refs/heads/")
        history = self.branches.get(revision)
        if history:
            return history[-1]
        for commits in self.branches.values():  # a commit oid
            for commit in commits:
                if commit.oid == revision:
                    return commit
        return None


class LocalHubServer:
    """The server; use as a context manager or call ``start()`` / ``stop()``. ``endpoint`` is its base URL."""

    def __init__(self, tokens: set[str] | None = None, read_only_tokens: set[str] = frozenset(), user: str = "tester"):
        self.tokens = set(tokens) if tokens else None
        self.read_only_tokens = set(read_only_tokens)
        self.user = user
        self.requests: list[tuple[str, str, bool]] = []
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._faults: list[dict] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------------------------- control

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def inject(self, status: int, times: int = 1, method: str | None = None, path_contains: str | None = None) -> None:
        """The next ``times`` requests matching ``method`` and ``path_contains`` get HTTP ``status``."""
        with self._lock:
            self._faults.append({"status": status, "left": times, "method": method, "path": path_contains})

    def reset(self) -> None:
        with self._lock:
            self._repos.clear()
            self._faults.clear()
            self.requests.clear()

    def commits(self, repo_id: str, repo_type: str = "model", branch: str = "main") -> list[_Commit]:
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            return list(repo.branches.get(branch, [])) if repo else []

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            commit = repo.head(revision) if repo else None
            return dict(commit.files) if commit else {}

    def repo_exists(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return (repo_type, repo_id) in self._repos

    def is_private(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return self._repos[(repo_type, repo_id)].private

    def settings(self, repo_id: str, repo_type: str = "model") -> dict:
        """Settings set with ``PUT .../settings`` (e.g. ``{"gated": "auto"}``)."""
        with self._lock:
            return dict(self._repos[(repo_type, repo_id)].settings)

    # ------------------------------------------------------------------------------------------------ internals

    def _take_fault(self, method: str, path: str) -> int | None:
        with self._lock:
            for rule in self._faults:
                if (
                    rule["left"] > 0
                    and rule["method"] in (None, method)
                    and (rule["path"] is None or rule["path"] in path)
                ):
                    rule["left"] -= 1
                    return rule["status"]
        return None

    def _auth(self, header: str | None) -> str | None:
        """``"ok"``, ``"read"`` (read-only token), ``None`` (no or unknown token)."""
        token = header[len("Bearer ") :] if header and header.startswith("Bearer ") else None
        if self.tokens is None:
            return "ok"
        if token in self.tokens:
            return "ok"
        if token in self.read_only_tokens:
            return "read"
        return None

    def _repo_url(self, repo: _Repo) -> str:
        return f"{self.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    def _commit(
        self, repo: _Repo, branch: str, title: str, description: str, adds: dict, deletes: list, folders: list
    ) -> _Commit:
        history = repo.branches.setdefault(branch, [])
        files = dict(history[-1].files) if history else {}
        for path in deletes:
            files.pop(path, None)
        for folder in folders:
            prefix = folder.rstrip("/") + "/"
            for path in [path for path in files if path.startswith(prefix)]:
                del files[path]
        files.update(adds)
        parent = history[-1].oid if history else ""
        oid = hashlib.sha1(
            json.dumps([parent, title, sorted((p, git_blob_oid(c)) for p, c in files.items())]).encode()
            + str(time.time_ns()).encode()
        ).hexdigest()
        commit = _Commit(
            oid,
            title,
            description,
            files,
            sorted(adds),
            sorted(deletes) + sorted(folders),
            time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        )
        history.append(commit)
        return commit


def validate_card_yaml(content: str, repo_type: str) -> list[str]:
    """The problems the Hub would report for a README's metadata (empty list when it is valid)."""
    import yaml
    from huggingface_hub import DatasetCardData, ModelCardData
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    match = REGEX_YAML_BLOCK.search(content)
    if not match:
        return []
    try:
        data = yaml.safe_load(match.group(2)) or {}
    except yaml.YAMLError as error:
        return [f"YAML block does not parse: {error}"]
    if not isinstance(data, dict):
        return ["YAML metadata must be a mapping"]
    problems = []
    for key in ("license", "pipeline_tag", "library_name", "pretty_name"):
        if key in data and not isinstance(data[key], str):
            problems.append(f'"{key}" must be a string')
    for key in ("tags", "task_categories", "size_categories", "language"):
        value = data.get(key)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            problems.append(f'"{key}" must be a string or a list of strings')
    try:
        (DatasetCardData if repo_type == "dataset" else ModelCardData)(**data)
    except (ValueError, TypeError, KeyError) as error:
        problems.append(f"metadata does not parse: {error}")
    for config in data.get("configs") or []:
        if not isinstance(config, dict) or "config_name" not in config or "data_files" not in config:
            problems.append('"configs" entries need "config_name" and "data_files"')
    return problems


def _handler_for(server: LocalHubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        # -------------------------------------------------------------------------------------------- plumbing

        def _send(self, status: int, body=b"", headers: dict | None = None, head: bool = False) -> None:
            if not isinstance(body, (bytes, bytearray)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _error(
            self, status: int, message: str, code: str | None = None, head: bool = False, extra: dict | None = None
        ) -> None:
            headers = {"X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, {"error": message, **(extra or {})}, headers, head=head)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            body = self._body() if method in ("POST", "PUT") else b""
            auth = server._auth(self.headers.get("Authorization"))
            with server._lock:
                server.requests.append((method, url.path, self.headers.get("Authorization") is not None))
            status = server._take_fault(method, url.path)
            if status is not None:
                messages = {
                    401: "Invalid credentials in Authorization header",
                    403: "You don't have the rights to write to this repository",
                    500: "Internal Error - We're working hard to fix this as soon as possible!",
                }
                return self._error(status, messages.get(status, f"injected error {status}"), head=method == "HEAD")
            try:
                self._route(method, url.path, path, query, body, auth)
            except _HttpError as error:
                self._error(error.status, error.message, error.code, head=method == "HEAD", extra=error.extra)

        def do_GET(self):
            self._dispatch("GET")

        def do_HEAD(self):
            self._dispatch("HEAD")

        def do_POST(self):
            self._dispatch("POST")

        def do_PUT(self):
            self._dispatch("PUT")

        # ---------------------------------------------------------------------------------------------- routes

        def _route(self, method, raw_path, path, query, body, auth) -> None:
            if path == "/api/whoami-v2":
                if auth is None or server.tokens is None and not self.headers.get("Authorization"):
                    raise _HttpError(401, "Invalid credentials in Authorization header")
                return self._send(
                    200,
                    {
                        "type": "user",
                        "name": server.user,
                        "auth": {"accessToken": {"role": "read" if auth == "read" else "write"}},
                        "orgs": [],
                    },
                )
            if path == "/api/repos/create" and method == "POST":
                return self._create_repo(json.loads(body or b"{}"), auth)
            if path == "/api/validate-yaml" and method == "POST":
                payload = json.loads(body or b"{}")
                problems = validate_card_yaml(payload.get("content", ""), payload.get("repoType", "model"))
                if problems and "text/plain" in (self.headers.get("Accept") or ""):  # ModelCard.validate asks so
                    return self._send(400, "\n".join(problems).encode(), {"Content-Type": "text/plain"})
                if problems:
                    return self._send(400, {"errors": [{"message": problem} for problem in problems]})
                return self._send(200, {"errors": [], "warnings": []})
            # The raw path keeps %2F inside a revision (refs%2Fpr%2F1) in one segment.
            match = _API_REPO.match(raw_path)
            if match:
                kind, repo_id, rest = match.group(1)[:-1], unquote(match.group(2)), match.group(3) or ""
                return self._repo_api(method, kind, repo_id, rest, query, body, auth)
            match = _RESOLVE.match(raw_path)
            if match and method in ("GET", "HEAD"):
                kind = (match.group(1) or "models")[:-1]
                return self._resolve(
                    method, kind, unquote(match.group(2)), unquote(match.group(3)), unquote(match.group(4)), auth
                )
            raise _HttpError(404, f"no route for {method} {path}")

        def _repo(self, kind: str, repo_id: str, auth, write: bool = False) -> _Repo:
            if write and auth is None:
                raise _HttpError(401, "Invalid credentials in Authorization header")
            if write and auth == "read":
                raise _HttpError(403, "You don't have the rights to write to this repository (read-only token)")
            with server._lock:
                repo = server._repos.get((kind, repo_id))
            if repo is None or (repo.private and auth is None):
                raise _HttpError(404, "Repository not found", "RepoNotFound")
            return repo

        def _create_repo(self, payload: dict, auth) -> None:
            if auth is None:
                raise _HttpError(401, "Invalid credentials in Authorization header")
            if auth == "read":
                raise _HttpError(403, "You don't have the rights to create a repository (read-only token)")
            kind = payload.get("type") or "model"
            name, organization = payload.get("name"), payload.get("organization") or server.user
            if not name or not re.fullmatch(r"[\w.-]+", name):
                raise _HttpError(400, f"invalid repo name {name!r}")
            repo_id = f"{organization}/{name}"
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            with server._lock:
                if (kind, repo_id) in server._repos:
                    url = server._repo_url(server._repos[(kind, repo_id)])
                    raise _HttpError(409, f"You already created this {kind} repo: {url}", extra={"url": url})
                repo = server._repos[(kind, repo_id)] = _Repo(repo_id, kind, private)
                server._commit(
                    repo, "main", "initial commit", "", {".gitattributes": b"*.safetensors filter=lfs\n"}, [], []
                )
            self._send(200, {"url": server._repo_url(repo), "name": repo_id, "id": repo_id})

        def _repo_api(self, method, kind, repo_id, rest, query, body, auth) -> None:
            if method == "GET" and (rest == "" or rest.startswith("revision/")):
                repo = self._repo(kind, repo_id, auth)
                revision = unquote(rest[len("revision/") :]) if rest else "main"
                return self._send(200, self._info(repo, revision))
            if method == "GET" and rest == "refs":
                repo = self._repo(kind, repo_id, auth)
                with server._lock:
                    branches = [
                        {"name": name, "ref": f"refs/heads/{name}", "targetCommit": history[-1].oid}
                        for name, history in repo.branches.items()
                        if not name.startswith("refs/pr/")
                    ]
                return self._send(200, {"branches": branches, "tags": [], "converts": []})
            if method == "GET" and rest.startswith("tree/"):
                revision, _, folder = rest[len("tree/") :].partition("/")
                repo = self._repo(kind, repo_id, auth)
                return self._send(
                    200,
                    self._tree(
                        repo,
                        unquote(revision),
                        unquote(folder),
                        query.get("recursive", ["false"])[0] in ("1", "true", "True"),
                    ),
                )
            if method == "POST" and rest.startswith("paths-info/"):
                repo = self._repo(kind, repo_id, auth)
                fields = parse_qs(body.decode())
                return self._send(
                    200, self._paths_info(repo, unquote(rest[len("paths-info/") :]), fields.get("paths", []))
                )
            if method == "POST" and rest.startswith("preupload/"):
                repo = self._repo(kind, repo_id, auth, write=True)
                return self._preupload(repo, unquote(rest[len("preupload/") :]), json.loads(body))
            if method == "POST" and rest.startswith("commit/"):
                repo = self._repo(kind, repo_id, auth, write=True)
                return self._commit(repo, unquote(rest[len("commit/") :]), body, query)
            if method == "POST" and rest.startswith("branch/"):
                repo = self._repo(kind, repo_id, auth, write=True)
                branch = unquote(rest[len("branch/") :])
                with server._lock:
                    if branch in repo.branches:
                        raise _HttpError(409, f"Reference refs/heads/{branch} already exists")
                    repo.branches[branch] = list(repo.branches["main"])
                return self._send(200, {})
            if method == "PUT" and rest == "settings":
                repo = self._repo(kind, repo_id, auth, write=True)
                payload = json.loads(body or b"{}")
                with server._lock:
                    repo.settings.update(payload)
                    if "private" in payload or "visibility" in payload:
                        repo.private = payload.get("visibility") == "private" or bool(payload.get("private"))
                return self._send(200, {})
            if method == "POST" and rest == "discussions":
                repo = self._repo(kind, repo_id, auth, write=True)
                payload = json.loads(body)
                with server._lock:
                    repo.prs += 1
                    number = repo.prs
                    repo.branches[f"refs/pr/{number}"] = list(repo.branches["main"])
                return self._send(
                    200,
                    {
                        "num": number,
                        "url": f"{server._repo_url(repo)}/discussions/{number}",
                        "pullRequest": payload.get("pullRequest", False),
                    },
                )
            if method == "GET" and rest.startswith("discussions/"):
                repo = self._repo(kind, repo_id, auth)
                number = int(rest.split("/")[1])
                if number > repo.prs:
                    raise _HttpError(404, "Discussion not found")
                return self._send(
                    200,
                    {
                        "num": number,
                        "title": f"PR {number}",
                        "status": "open",
                        "isPullRequest": True,
                        "createdAt": "2026-01-01T00:00:00.000Z",
                        "author": {"name": server.user},
                        "repo": {"name": repo_id, "type": kind},
                        "events": [],
                        "changes": {"base": "refs/heads/main"},
                        "filesWithConflicts": [],
                    },
                )
            raise _HttpError(404, f"no route for {method} /api/{kind}s/{repo_id}/{rest}")

        def _head_or_404(self, repo: _Repo, revision: str) -> _Commit:
            with server._lock:
                commit = repo.head(revision)
            if commit is None:
                raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return commit

        def _info(self, repo: _Repo, revision: str) -> dict:
            commit = self._head_or_404(repo, revision)
            info = {
                "id": repo.repo_id,
                "_id": git_blob_oid(repo.repo_id.encode())[:24],
                "author": repo.repo_id.split("/")[0],
                "sha": commit.oid,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "lastModified": commit.date,
                "createdAt": repo.branches["main"][0].date,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": [{"rfilename": path} for path in sorted(commit.files)],
            }
            readme = commit.files.get("README.md")
            if readme is not None:
                import yaml
                from huggingface_hub.repocard import REGEX_YAML_BLOCK

                match = REGEX_YAML_BLOCK.search(readme.decode("utf-8"))
                if match:
                    info["cardData"] = yaml.safe_load(match.group(2)) or {}
            return info

        def _entry(self, path: str, content: bytes | None, commit: _Commit) -> dict:
            if content is None:
                return {"type": "directory", "oid": git_blob_oid(path.encode()), "size": 0, "path": path}
            return {
                "type": "file",
                "oid": git_blob_oid(content),
                "size": len(content),
                "path": path,
                "lastCommit": {"id": commit.oid, "title": commit.title, "date": commit.date},
            }

        def _tree(self, repo: _Repo, revision: str, folder: str, recursive: bool) -> list:
            commit = self._head_or_404(repo, revision)
            prefix = folder.strip("/") + "/" if folder.strip("/") else ""
            if prefix and not any(path.startswith(prefix) for path in commit.files):
                raise _HttpError(404, f"{folder} does not exist on {revision}", "EntryNotFound")
            entries, folders = [], set()
            for path, content in sorted(commit.files.items()):
                if not path.startswith(prefix):
                    continue
                parts = path[len(prefix) :].split("/")
                for depth in range(1, len(parts)):
                    folders.add(prefix + "/".join(parts[:depth]) if recursive or depth == 1 else None)
                if recursive or len(parts) == 1:
                    entries.append(self._entry(path, content, commit))
            folders.discard(None)
            return [self._entry(folder, None, commit) for folder in sorted(folders)] + entries

        def _paths_info(self, repo: _Repo, revision: str, paths: list[str]) -> list:
            commit = self._head_or_404(repo, revision)
            found = []
            for path in paths:
                path = path.strip("/")
                if path in commit.files:
                    found.append(self._entry(path, commit.files[path], commit))
                elif any(name.startswith(path + "/") for name in commit.files):
                    found.append(self._entry(path, None, commit))
            return found

        def _preupload(self, repo: _Repo, revision: str, payload: dict) -> None:
            commit = self._head_or_404(repo, revision) if revision in repo.branches else None
            files = []
            for item in payload.get("files", []):
                existing = commit.files.get(item["path"]) if commit else None
                files.append(
                    {
                        "path": item["path"],
                        "uploadMode": "regular",
                        "shouldIgnore": False,
                        "oid": git_blob_oid(existing) if existing is not None else None,
                    }
                )
            self._send(200, {"files": files, "commitOid": commit.oid if commit else None})

        def _commit(self, repo: _Repo, revision: str, body: bytes, query) -> None:
            lines = [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
            if not lines or lines[0].get("key") != "header":
                raise _HttpError(400, "commit payload must start with a header line")
            header = lines[0]["value"]
            adds, deletes, folders = {}, [], []
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value") or {}
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise _HttpError(400, f"unsupported encoding {value.get('encoding')!r}")
                    adds[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    deletes.append(value["path"])
                elif key == "deletedFolder":
                    folders.append(value["path"])
                elif key == "lfsFile":
                    raise _HttpError(400, "this test Hub stores regular files only (preupload never asks for LFS)")
                else:
                    raise _HttpError(400, f"unknown commit operation {key!r}")
            branch = revision.removeprefix("refs/heads/")
            pr_url = None
            with server._lock:
                if branch not in repo.branches:
                    raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                parent = header.get("parentCommit")
                if parent and not repo.branches[branch][-1].oid.startswith(parent):
                    raise _HttpError(412, "A commit has happened since. Please refresh and try again.")
                if query.get("create_pr", ["0"])[0] == "1":
                    repo.prs += 1
                    branch = f"refs/pr/{repo.prs}"
                    repo.branches[branch] = list(repo.branches["main"])
                    pr_url = f"{server._repo_url(repo)}/discussions/{repo.prs}"
                commit = server._commit(
                    repo, branch, header.get("summary", ""), header.get("description", ""), adds, deletes, folders
                )
            self._send(
                200,
                {
                    "commitUrl": f"{server._repo_url(repo)}/commit/{commit.oid}",
                    "commitOid": commit.oid,
                    "pullRequestUrl": pr_url,
                    "success": True,
                },
            )

        def _resolve(self, method, kind, repo_id, revision, path, auth) -> None:
            repo = self._repo(kind, repo_id, auth)
            commit = self._head_or_404(repo, revision)
            content = commit.files.get(path)
            if content is None:
                raise _HttpError(404, f"{path} does not exist on {revision}", "EntryNotFound")
            headers = {
                "X-Repo-Commit": commit.oid,
                "ETag": f'"{git_blob_oid(content)}"',
                "Content-Type": "application/octet-stream",
                "Accept-Ranges": "bytes",
            }
            range_header = self.headers.get("Range")
            if range_header and method == "GET":
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header)
                if match:
                    start = int(match.group(1))
                    end = int(match.group(2)) if match.group(2) else len(content) - 1
                    part = content[start : end + 1]
                    headers["Content-Range"] = f"bytes {start}-{start + len(part) - 1}/{len(content)}"
                    return self._send(206, part, headers)
            if method == "HEAD":
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                return None
            return self._send(200, content, headers)

    return Handler


class _HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}
