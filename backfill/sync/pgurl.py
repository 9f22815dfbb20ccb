"""Postgres URLs in messages: the password never shows (postgresql://user:***@host/db)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with any password shown as ***: postgresql://user:***@host/db (key=value strings too)."""
    if "://" not in url:
        return _KV_PASSWORD.sub(r"\1***", url)
    scheme, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    return _QUERY_PASSWORD.sub(r"\1***", f"{scheme}://{netloc}{sep}{tail}")


def _passwords(url: str) -> list[str]:
    found: list[str] = []
    if "://" in url:
        try:
            parts = urlsplit(url)
            if parts.password:
                found += [parts.password, unquote(parts.password)]
        except ValueError:
            pass
        found += [unquote(m.group(0).split("=", 1)[1]) for m in _QUERY_PASSWORD.finditer(url)]
    found += [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(url)]
    return [p for p in found if len(p) >= 4]  # shorter ones would mangle words, and are in no message we make


def scrub(text: str, url: str) -> str:
    """Defence in depth: no message leaves with the password in it, whatever a driver put there."""
    for secret in sorted(set(_passwords(url)), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
