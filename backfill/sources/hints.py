"""The likely cause of a run that filled nothing, naming the settings of the source whose answers failed."""

from __future__ import annotations

_API = {
    404: "is SPOTIFY_API_URL right (it ends in /v1), and is this the catalogue your history came from?",
    400: "is SPOTIFY_API_URL right, and are these Spotify ids?",
    401: "the access token is refused: check SPOTIFY_TOKEN_URL and SPOTIFY_API_URL",
    403: "access is refused: check the app in Spotify's developer dashboard",
    0: "the server's answers are unreadable or missing: check SPOTIFY_API_URL, a proxy, or try later",
}
# oEmbed takes no credentials: a 401 or 403 means the URL leads somewhere else.
_OEMBED = {
    404: "is SPOTIFY_OEMBED_URL right (it ends in /oembed), and is this the catalogue your history came from?",
    401: "that server wants credentials, which oEmbed never does: check SPOTIFY_OEMBED_URL",
    403: "that server refuses access, which oEmbed does not: check SPOTIFY_OEMBED_URL, or a proxy",
    0: "the server's answers are unreadable or missing: check SPOTIFY_OEMBED_URL, a proxy, or try later",
}
# Where each source's address is set.
SETTING = {
    "api": "SPOTIFY_API_URL",
    "oembed": "SPOTIFY_OEMBED_URL",
    "deezer": "DEEZER_API_URL",
    "musicbrainz": "MUSICBRAINZ_API_URL",
    "coverart": "COVERART_API_URL",
}
_FAILING = {"api": "the Web API is failing", "oembed": "oEmbed is failing"}


def likely_cause(source: str, status: int) -> str:
    """Why `source` (api, oembed) answered `status` to everything, and which setting to check."""
    hints = _OEMBED if source == "oembed" else _API
    return hints.get(status, f"{_FAILING.get(source, 'the service is failing')}: try again later")
