"""The AutoDQ judge: an LLM behind any OpenAI-compatible chat-completions endpoint, reached with the ``openai`` client.

Configuration (``JudgeConfig``; an explicit argument wins over the environment):

============================  =========================================================  ======================
setting                       environment                                                default
============================  =========================================================  ======================
``model``                     ``TARSIER_JUDGE_MODEL``                                    ``gpt-3.5-turbo-0125``
``base_url``                  ``TARSIER_JUDGE_BASE_URL``, then ``OPENAI_BASE_URL``       OpenAI's API
``api_key``                   ``TARSIER_JUDGE_API_KEY``, then ``OPENAI_API_KEY``         ``"EMPTY"`` if a base URL is set
``concurrency``               ``TARSIER_JUDGE_CONCURRENCY``                              16 requests in flight
============================  =========================================================  ======================

The paper and the released scorer use ``gpt-3.5-turbo-0125`` (an Azure deployment named ``gpt-35-turbo-0125``).
The released scorer leaves the temperature at the API default (1.0); here the first ask of every prompt uses
temperature 0 so that a judgment can be reproduced, and re-asks use ``reask_temperature`` (1.0, the released
setting) so that asking again can give a different, valid reply.

Every request is bounded by ``concurrency`` (an ``asyncio.Semaphore``) and by ``timeout`` seconds; the ``openai``
client retries timeouts, HTTP 408/409/429 and 5xx up to ``max_retries`` times with exponential backoff (0.5 s
doubling to 8 s, with jitter, honouring ``Retry-After``). Every reply is validated (``parsing``); an invalid reply is
asked again, up to ``max_reasks`` times (the released scorer allowed 10 attempts, so 9 re-asks).

What goes wrong is one of two kinds:

- ``JudgeFailure``: this prompt got no valid reply (retries exhausted on 429/5xx/timeouts, or every attempt invalid).
  The clip that needed it fails and is reported as failed; the other clips go on.
- ``JudgeSetupError``: no judge can answer at all (no API key, key refused, unknown model, endpoint unreachable).
  The run stops with that message; everything already answered is in the cache.

The client is created on the first request that is not in the cache, so importing, listing tasks and re-scoring
from a complete cache need neither a key nor a network.
"""

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from .cache import JudgeCache, reply_key
from .parsing import InvalidReply, parse_extraction_reply, parse_judgement_reply
from .prompts import PROMPT_HASH, render_extraction, render_judgement

logger = logging.getLogger(__name__)

DEFAULT_JUDGE_MODEL = "gpt-3.5-turbo-0125"
DEFAULT_CONCURRENCY = 16
MODEL_ENV = "TARSIER_JUDGE_MODEL"
BASE_URL_ENVS = ("TARSIER_JUDGE_BASE_URL", "OPENAI_BASE_URL")
API_KEY_ENVS = ("TARSIER_JUDGE_API_KEY", "OPENAI_API_KEY")
CONCURRENCY_ENV = "TARSIER_JUDGE_CONCURRENCY"
# Every variable JudgeConfig reads (tests clear them so that a developer's shell cannot reach a run).
JUDGE_ENVS = (MODEL_ENV, *BASE_URL_ENVS, *API_KEY_ENVS, CONCURRENCY_ENV)
# What OpenAI-compatible servers without authentication (vLLM, SGLang) accept as a key.
KEYLESS_API_KEY = "EMPTY"


class JudgeFailure(RuntimeError):
    """One prompt got no valid reply; the clip that needed it cannot be scored."""


class JudgeSetupError(RuntimeError):
    """The judge cannot answer any request (configuration or endpoint problem); the run must stop."""


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass
class JudgeConfig:
    """Which judge to ask and how; ``None`` fields are filled from the environment (see the module docstring)."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    concurrency: int | None = None
    timeout: float = 60.0
    max_retries: int = 6
    max_reasks: int = 9
    temperature: float | None = 0.0
    reask_temperature: float | None = 1.0

    def __post_init__(self):
        self.model = self.model or os.environ.get(MODEL_ENV) or DEFAULT_JUDGE_MODEL
        self.base_url = self.base_url or _first_env(BASE_URL_ENVS)
        self.api_key = self.api_key or _first_env(API_KEY_ENVS)
        if self.base_url:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"judge base URL must be an http(s) URL such as http://127.0.0.1:8000/v1, got "
                    f"{_without_credentials(self.base_url)!r}"
                )
        if self.concurrency is None:
            raw = os.environ.get(CONCURRENCY_ENV)
            try:
                self.concurrency = int(raw) if raw else DEFAULT_CONCURRENCY
            except ValueError:
                raise ValueError(f"{CONCURRENCY_ENV}={raw!r} is not an integer") from None
        if self.concurrency < 1:
            raise ValueError(f"judge concurrency must be >= 1, got {self.concurrency}")
        if self.timeout <= 0:
            raise ValueError(f"judge timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0 or self.max_reasks < 0:
            raise ValueError(f"max_retries and max_reasks must be >= 0, got {self.max_retries} and {self.max_reasks}")

    def describe(self) -> dict:
        """The settings that shape the judgments, for the results' protocol (never the key)."""
        return {
            "judge_model": self.model,
            "judge_base_url": _without_credentials(self.base_url),
            "temperature": self.temperature,
            "reask_temperature": self.reask_temperature,
            "max_reasks": self.max_reasks,
            "max_retries": self.max_retries,
            "timeout_s": self.timeout,
            "concurrency": self.concurrency,
        }


def _without_credentials(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class JudgeStats:
    requests: int = 0  # calls answered by the endpoint (each attempt once; the client's own retries not counted)
    cache_hits: int = 0
    invalid_replies: int = 0
    failed_requests: int = 0


class Judge:
    """Asks judge questions through the cache: the two AutoDQ ones (extract events; judge entailment) and, with
    :meth:`ask`, any other metric's (e.g. the Video-ChatGPT QA judgment). Use inside one event loop."""

    def __init__(self, config: JudgeConfig, cache: JudgeCache):
        self.config = config
        self.cache = cache
        self.stats = JudgeStats()
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._in_flight: dict[str, asyncio.Task] = {}
        self._client = None

    async def extract_events(self, caption: str) -> list[str]:
        """The events the judge extracts from an (already normalised) description."""
        return await self._ask("extract_events", render_extraction(caption), parse_extraction_reply)

    async def judge_entailment(self, description: str, events: list[str]) -> list[dict]:
        """One judged item per event: ``{"event": ..., "relationship": label, "reason": ...}`` (label normalised)."""
        return await self._ask(
            "judge_entailment",
            render_judgement(description, events),
            lambda reply: parse_judgement_reply(reply, len(events)),
        )

    async def ask(
        self, kind: str, prompt: str, parse: Callable[[str], object], prompt_hash: str, *, system: str | None = None
    ):
        """Ask any other prompt through the same cache, re-asks and failure accounting; returns ``parse(reply)``.

        ``parse`` raises ``parsing.InvalidReply`` on a reply that does not fit the caller's schema (it is asked
        again, up to ``max_reasks`` times); ``prompt_hash`` identifies the caller's prompt templates (a system
        message included) in the cache key, so that replies made with other prompts are never reused; ``system``
        is sent as a system message before ``prompt``. Used by the judges other than AutoDQ, which bring their own
        prompt and reply schema: LLM annotators (``lmms_tasks.sbs.annotator``) and the Video-ChatGPT QA judge
        (``lmms_tasks.zeroshot.open_qa``). Raises ``JudgeFailure`` when no valid reply came, ``JudgeSetupError``
        when the judge cannot be used at all.
        """
        return await self._ask(kind, prompt, parse, prompt_hash, system=system)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _ask(
        self,
        kind: str,
        prompt: str,
        parse: Callable[[str], object],
        prompt_hash: str = PROMPT_HASH,
        *,
        system: str | None = None,
    ):
        last_error = None
        for attempt in range(self.config.max_reasks + 1):
            temperature = self.config.temperature if attempt == 0 else self.config.reask_temperature
            key = reply_key(
                model=self.config.model,
                prompt_hash=prompt_hash,
                temperature=temperature,
                prompt=prompt,
                attempt=attempt,
            )
            reply = await self._reply(key, kind, prompt, temperature, system)
            try:
                return parse(reply)
            except InvalidReply as error:
                self.stats.invalid_replies += 1
                last_error = error
                logger.debug("invalid %s reply (attempt %d): %s", kind, attempt + 1, error)
        raise JudgeFailure(f"{kind}: no valid reply in {self.config.max_reasks + 1} attempts; last: {last_error}")

    async def _reply(
        self, key: str, kind: str, prompt: str, temperature: float | None, system: str | None = None
    ) -> str:
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        # Identical prompts asked concurrently (e.g. two clips with the same prediction) share one request.
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._request_and_store(key, kind, prompt, temperature, system))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._forget_in_flight(key, done))
        return await task

    def _forget_in_flight(self, key: str, task: asyncio.Task) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]

    async def _request_and_store(
        self, key: str, kind: str, prompt: str, temperature: float | None, system: str | None = None
    ) -> str:
        async with self._semaphore:
            reply = await self._request(prompt, temperature, system)
        self.stats.requests += 1
        return self.cache.put(key, model=self.config.model, kind=kind, prompt=prompt, reply=reply)

    async def _request(self, prompt: str, temperature: float | None, system: str | None = None) -> str:
        import openai

        client = self._get_client()
        sampling = {} if temperature is None else {"temperature": temperature}
        messages = [{"role": "system", "content": system}] if system is not None else []
        messages.append({"role": "user", "content": prompt})
        try:
            completion = await client.chat.completions.create(model=self.config.model, messages=messages, **sampling)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
            raise JudgeSetupError(
                f"the judge endpoint {self._endpoint()} refused model {self.config.model!r} "
                f"({type(error).__name__}: {error}); check the API key, base URL and model name"
            ) from error
        except openai.APITimeoutError as error:
            self.stats.failed_requests += 1
            raise JudgeFailure(
                f"judge request timed out ({self.config.timeout} s) {self.config.max_retries + 1} times"
            ) from error
        except openai.APIConnectionError as error:
            raise JudgeSetupError(
                f"cannot reach the judge endpoint {self._endpoint()} ({error}) after {self.config.max_retries} retries"
            ) from error
        except openai.APIStatusError as error:
            self.stats.failed_requests += 1
            raise JudgeFailure(
                f"judge request failed with HTTP {error.status_code} after {self.config.max_retries} retries: {error}"
            ) from error
        except openai.OpenAIError as error:
            self.stats.failed_requests += 1
            raise JudgeFailure(f"judge request failed: {type(error).__name__}: {error}") from error
        choices = getattr(completion, "choices", None)
        if not choices:
            return ""  # an answered call with nothing in it: stored, found invalid, asked again
        return choices[0].message.content or ""

    def _endpoint(self) -> str:
        return _without_credentials(self.config.base_url) or "https://api.openai.com/v1"

    def _get_client(self):
        if self._client is None:
            import openai

            api_key = self.config.api_key or (KEYLESS_API_KEY if self.config.base_url else None)
            if api_key is None:
                raise JudgeSetupError(
                    "no API key for the AutoDQ judge: set OPENAI_API_KEY (or TARSIER_JUDGE_API_KEY), or point "
                    "TARSIER_JUDGE_BASE_URL / --base-url at an OpenAI-compatible server (vLLM, SGLang) that needs none"
                )
            self._client = openai.AsyncOpenAI(
                api_key=api_key,
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
            )
        return self._client
