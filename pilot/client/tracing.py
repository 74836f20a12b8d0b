"""Timing one model call: `with client.trace(...) as call:` or `@client.trace(...)`.

The block (or function) runs unchanged; around it we take the start time, hand the code a
`Call` to fill in (output, tokens, …), and when it ends, queue one interaction with the
measured latency and a status: `ok`, or — when an exception escapes — `error` (`timeout` or
`rate_limited` for exceptions named so, as the OpenAI and Anthropic SDKs name theirs) with the
exception's message. The exception itself is re-raised untouched: same object, same traceback.
Nothing in here raises on its own account.
"""
from __future__ import annotations

import functools
import inspect
import logging
import time
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Literal

from ._items import INTERACTION_FIELDS, describe_exception, new_event_id

if TYPE_CHECKING:
    from .core import PilotClient

logger = logging.getLogger("pilot.client")

_current_call: ContextVar["Call | None"] = ContextVar("pilot_current_call", default=None)
_CALL_FIELDS = ("model", "user", "session", "input", "output", "prompt_version", "input_tokens",
                "cached_input_tokens", "output_tokens", "latency_ms", "ttft_ms", "status", "error", "cost_usd")
_USER_PARAMETERS = ("user", "user_id")
_SESSION_PARAMETERS = ("session", "session_id")


class Call:
    """One model call in progress. Set what you learn; it is sent when the call ends.

    Attributes are docs/design.md's interaction fields (`output`, `input_tokens`,
    `cached_input_tokens`, `output_tokens`, `cost_usd`, `status`, `error`, `prompt_version`, …)
    plus `metadata` (a dict) and `id` (the event id, known from the start: use it for feedback).
    `latency_ms` is measured unless you set it.
    """

    def __init__(self, fields: dict[str, Any] | None = None) -> None:
        fields = dict(fields or {})
        self.id: str = str(fields.pop("id", None) or new_event_id())
        self.timestamp: Any = fields.pop("timestamp", None) or datetime.now(timezone.utc)
        self.metadata: dict[str, Any] = {}
        for name in _CALL_FIELDS:
            setattr(self, name, None)
        self._started = time.perf_counter()
        self.record(**fields)

    def record(self, **fields: Any) -> "Call":
        """Set several fields at once: `call.record(output=text, input_tokens=812, output_tokens=95)`.

        `metadata=` is merged into the call's metadata; unknown names go there too.
        """
        for name, value in fields.items():
            if name == "metadata":
                if isinstance(value, dict):
                    self.metadata.update(value)
                elif value is not None:
                    self.metadata["value"] = value
            elif name in INTERACTION_FIELDS and name not in ("id", "timestamp"):
                setattr(self, name, value)
            else:
                self.metadata[name] = value
        return self

    def first_token(self) -> None:
        """Mark the first streamed token now: sets `ttft_ms` (once)."""
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms

    def usage_from(self, response: Any) -> "Call":
        """Read tokens, model and text from an OpenAI or Anthropic SDK response (or dict).

        Fills only what is still unset. `input_tokens` counts every input token, cached ones
        included (Anthropic reports cache reads and writes apart; they are added back).
        """
        try:
            _read_usage(self, response)
        except Exception:  # duck typing over foreign objects: never let it hurt the host
            logger.debug("Pilot could not read usage from %r", type(response), exc_info=True)
        return self

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000.0

    def fields(self) -> dict[str, Any]:
        """The interaction to send, as log_interaction keywords."""
        values = {name: getattr(self, name) for name in _CALL_FIELDS if getattr(self, name) is not None}
        values["id"] = self.id
        values["timestamp"] = self.timestamp
        if self.metadata:
            values["metadata"] = self.metadata
        return values

    def __repr__(self) -> str:
        return f"<Call {self.id} model={self.model!r} status={self.status!r}>"


def current_call() -> Call:
    """The Call of the innermost `trace` running in this thread or task.

    Outside any trace this returns a detached Call that is never sent, so code that records
    tokens works (and does nothing) when the tracing is switched off.
    """
    return _current_call.get() or Call()


def status_for(error: BaseException) -> str:
    """Map an exception to docs/design.md's statuses by its kind or name (SDK classes differ)."""
    name = type(error).__name__.lower()
    if isinstance(error, TimeoutError) or "timeout" in name:
        return "timeout"
    if "ratelimit" in name.replace("_", ""):
        return "rate_limited"
    return "error"


class Trace:
    """What `client.trace(...)` returns: a context manager (sync and async) and a decorator.

    As a context manager it is single-use per `with`; as a decorator every invocation of the
    function gets its own Call.
    """

    def __init__(self, client: "PilotClient", fields: dict[str, Any], *, input_arg: str | None = None,
                 user_arg: str | None = None, session_arg: str | None = None) -> None:
        self._client = client
        self._fields = fields
        self._input_arg = input_arg
        self._user_arg = user_arg
        self._session_arg = session_arg
        self._active: list[tuple[Call, Token]] = []

    def __enter__(self) -> Call:
        try:
            call = Call(self._fields)
        except Exception:
            logger.exception("Pilot could not start a trace; this call is not recorded")
            call = Call()
        self._active.append((call, _current_call.set(call)))
        return call

    def __exit__(self, exc_type: Any, error: BaseException | None, traceback: Any) -> Literal[False]:
        call, token = self._active.pop()
        try:
            _current_call.reset(token)
        except ValueError:  # exited in another context than entered; nothing to restore
            pass
        _finish(self._client, call, error)
        return False  # never swallow the host's exception

    async def __aenter__(self) -> Call:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, error: BaseException | None, traceback: Any) -> Literal[False]:
        return self.__exit__(exc_type, error, traceback)

    def __call__(self, function: Callable) -> Callable:
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            signature = None
        parameters = signature.parameters if signature is not None else {}
        user_arg = self._user_arg or next((p for p in _USER_PARAMETERS if p in parameters), None)
        session_arg = self._session_arg or next((p for p in _SESSION_PARAMETERS if p in parameters), None)

        def fresh_trace(args: tuple, kwargs: dict) -> Trace:
            fields = dict(self._fields)
            try:
                fields.update(_fields_from_arguments(signature, args, kwargs, self._input_arg, user_arg,
                                                     session_arg, fields))
            except Exception:
                logger.debug("Pilot could not read the traced function's arguments", exc_info=True)
            return Trace(self._client, fields)

        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                with fresh_trace(args, kwargs) as call:
                    result = await function(*args, **kwargs)
                    _take_result(call, result)
                    return result

            return traced_async

        @functools.wraps(function)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with fresh_trace(args, kwargs) as call:
                result = function(*args, **kwargs)
                _take_result(call, result)
                return result

        return traced


def _finish(client: "PilotClient", call: Call, error: BaseException | None) -> None:
    """Measure, set the status, queue the interaction. Never raises."""
    try:
        if call.latency_ms is None:
            call.latency_ms = call.elapsed_ms
        if error is not None:
            call.status = status_for(error)
            call.error = call.error or describe_exception(error)
        elif call.status is None:
            call.status = "error" if call.error else "ok"
        client.log_interaction(**call.fields())
    except Exception:
        logger.exception("Pilot could not record a traced call")


def _take_result(call: Call, result: Any) -> None:
    """A decorated function's return value: a str is the output; an SDK response gives usage."""
    if call.output is not None:
        return
    if isinstance(result, str):
        call.output = result
    elif result is not None:
        call.usage_from(result)


def _fields_from_arguments(signature: inspect.Signature | None, args: tuple, kwargs: dict, input_arg: str | None,
                           user_arg: str | None, session_arg: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    arguments = signature.bind_partial(*args, **kwargs).arguments if signature is not None else {}
    if "input" not in fields:
        if input_arg:
            if input_arg in arguments:
                found["input"] = arguments[input_arg]
        else:
            found_input = next((value for value in args if isinstance(value, str)), None)
            if found_input is not None:
                found["input"] = found_input
    for field, parameter in (("user", user_arg), ("session", session_arg)):
        if field not in fields and parameter and arguments.get(parameter) is not None:
            found[field] = arguments[parameter]
    return found


def _get(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_usage(call: Call, response: Any) -> None:
    usage = _get(response, "usage")
    if usage is not None:
        cache_read = _int(_get(usage, "cache_read_input_tokens"))
        cache_write = _int(_get(usage, "cache_creation_input_tokens"))
        input_tokens = _int(_get(usage, "input_tokens"))
        if input_tokens is None:
            input_tokens = _int(_get(usage, "prompt_tokens"))
        if cache_read is not None or cache_write is not None:  # Anthropic: input_tokens excludes the cache
            input_tokens = (input_tokens or 0) + (cache_read or 0) + (cache_write or 0)
        else:  # OpenAI: the cached part is inside prompt/input tokens
            details = _get(usage, "prompt_tokens_details") or _get(usage, "input_tokens_details")
            cache_read = _int(_get(details, "cached_tokens"))
        output_tokens = _int(_get(usage, "output_tokens"))
        if output_tokens is None:
            output_tokens = _int(_get(usage, "completion_tokens"))
        if call.input_tokens is None:
            call.input_tokens = input_tokens
        if call.output_tokens is None:
            call.output_tokens = output_tokens
        if call.cached_input_tokens is None and cache_read:
            call.cached_input_tokens = cache_read
    if call.model is None and isinstance(_get(response, "model"), str):
        call.model = _get(response, "model")
    if call.output is None:
        call.output = _response_text(response)


def _response_text(response: Any) -> str | None:
    text = _get(response, "output_text")  # OpenAI Responses API
    if isinstance(text, str):
        return text
    choices = _get(response, "choices")  # OpenAI Chat Completions
    if isinstance(choices, (list, tuple)) and choices:
        content = _get(_get(choices[0], "message"), "content")
        if isinstance(content, str):
            return content
    content = _get(response, "content")  # Anthropic Messages: a list of blocks
    if isinstance(content, (list, tuple)):
        texts = [_get(block, "text") for block in content if _get(block, "type") in (None, "text")]
        texts = [text for text in texts if isinstance(text, str)]
        if texts:
            return "".join(texts)
    return None
