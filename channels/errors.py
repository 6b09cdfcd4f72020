"""Errors raised by the channels, each with a stable code and an HTTP status.

The codes are part of the contract (docs/channels.md): the chat page and any
other client may branch on them, so never rename one.
"""

from __future__ import annotations

import math

# Stable error codes of the web channel.
INVALID_JSON = "invalid_json"
INVALID_BODY = "invalid_body"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
BODY_TOO_LARGE = "body_too_large"
MISSING_MESSAGE = "missing_message"
INVALID_MESSAGE = "invalid_message"
EMPTY_MESSAGE = "empty_message"
MESSAGE_TOO_LONG = "message_too_long"
INVALID_SENDER = "invalid_sender"
NOT_FOUND = "not_found"
PROCESSING_FAILED = "processing_failed"
# The 👍/👎 under an answer (channels.feedback).
INVALID_FEEDBACK = "invalid_feedback"
FEEDBACK_UNKNOWN = "feedback_unknown"
# Abuse limits (channels.limits): the same codes on every channel's logs.
RATE_LIMITED = "rate_limited"
CHANNEL_BUSY = "channel_busy"
DAILY_LIMIT_REACHED = "daily_limit_reached"


class ChannelError(Exception):
    """Base class: something a channel cannot do, with a code and a status.

    ``message`` is Chinese because the chat page may show it to the citizen;
    it never contains what the citizen typed.
    """

    status = 500

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class InvalidRequestError(ChannelError):
    """The request is not one the channel accepts (a client mistake)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.status = status


class ProcessingError(ChannelError):
    """The bot failed while handling a valid message."""

    status = 500

    def __init__(self) -> None:
        super().__init__(PROCESSING_FAILED, "服务暂时不可用，请稍后再试。")


class LimitExceededError(ChannelError):
    """A message refused by an abuse limit before Rasa sees it (HTTP 429).

    ``message`` is the domain.yml response for the limit; ``retry_after`` is
    in whole seconds, at least 1.
    """

    status = 429

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(code, message)
        self.retry_after = max(1, math.ceil(retry_after))


class AssetMissingError(RuntimeError):
    """A file of the chat page is missing; raised at start-up, never per request."""
