"""The chat page's files: read once at start-up, served from memory.

Only the files listed here are served, so no request path ever reaches the
file system. The page loads nothing from other origins, and the headers tell
the browser to refuse anything else (see docs/channels.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from channels.errors import AssetMissingError

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_NAME = "chat.html"

# File name → content type; the page and everything it loads.
ASSET_TYPES = {
    PAGE_NAME: "text/html; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
}

# SECURITY: scripts, styles and requests only from this origin; no framing.
# Links to source pages open elsewhere, which needs no policy here.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    """One file of the page, ready to send."""

    name: str
    body: bytes
    content_type: str

    @property
    def etag(self) -> str:
        """A strong validator, so browsers revalidate instead of re-downloading."""
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    def headers(self) -> dict[str, str]:
        """Response headers: caching by validator, plus the security headers."""
        return {
            **SECURITY_HEADERS,
            "Cache-Control": "no-cache",
            "ETag": self.etag,
        }


# The hotline agent console (channels.assist), under the same headers.
CONSOLE_NAME = "assist.html"
CONSOLE_TYPES = {
    CONSOLE_NAME: "text/html; charset=utf-8",
    "assist.css": "text/css; charset=utf-8",
    "assist.js": "text/javascript; charset=utf-8",
}


def load_assets(
    static_dir: Path = STATIC_DIR, types: dict[str, str] = ASSET_TYPES
) -> dict[str, Asset]:
    """Read every file of the page.

    Raises:
        AssetMissingError: a file is missing or unreadable; the channel then
            refuses to start rather than serve a broken page.
    """
    assets = {}
    for name, content_type in types.items():
        path = static_dir / name
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise AssetMissingError(
                f"web channel: cannot read {path} ({exc.strerror or exc})"
            ) from exc
        assets[name] = Asset(name=name, body=body, content_type=content_type)
    return assets
