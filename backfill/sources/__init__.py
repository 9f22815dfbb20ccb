"""Where images come from: one module per source, behind one request loop (`http.PacedSource`).

- `api`: the Spotify Web API (batch and single-item calls, tokens, Development Mode detection).
- `oembed`: Spotify's oEmbed endpoint (no credentials, no Web API quota).
- `answers`: reading their answers; only a well-formed answer may say "no image" or "not found".
"""

BATCH_SIZE = 50  # the most ids the Web API's /tracks and /artists take in one call
SOURCE_NAMES = {"api": "Web API", "oembed": "oEmbed"}  # as the summaries name them
