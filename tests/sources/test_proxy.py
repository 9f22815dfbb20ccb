"""The proxy the environment names, looked up once per source (backfill.sources.proxy)."""

from __future__ import annotations

import base64

import pytest

from backfill.sources.proxy import proxy_for

API = "https://api.spotify.com/v1"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_no_proxy_variable_means_a_direct_connection() -> None:
    assert proxy_for(API) == {}


def test_the_proxy_for_the_scheme_with_its_credentials_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://me:s%40cret@proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://other.example:8080")
    assert proxy_for(API) == {
        "proxy": "http://proxy.example:3128",
        "proxy_headers": {"Proxy-Authorization": "Basic " + base64.b64encode(b"me:s@cret").decode()},
    }
    assert proxy_for("http://127.0.0.1:9/oembed") == {"proxy": "http://other.example:8080"}


def test_lower_case_wins_and_no_proxy_bypasses_by_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://upper.example:1")
    monkeypatch.setenv("https_proxy", "http://lower.example:2")
    assert proxy_for(API)["proxy"] == "http://lower.example:2"
    monkeypatch.setenv("NO_PROXY", "spotify.com,localhost")
    assert proxy_for(API) == {}
    assert proxy_for("https://open.spotify.com/oembed") == {}
    assert proxy_for("https://api.deezer.com")["proxy"] == "http://lower.example:2"


def test_a_proxy_given_without_a_scheme_is_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    assert proxy_for(API) == {"proxy": "http://proxy.example:3128"}
