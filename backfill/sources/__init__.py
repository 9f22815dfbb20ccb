"""Where images come from: one module per source, behind one request loop (`http.PacedSource`).

- `api`: the Spotify Web API (batch and single-item calls, tokens, Development Mode detection).
- `oembed`: Spotify's oEmbed endpoint (no credentials, no Web API quota).
- `answers`: reading their answers; only a well-formed answer may say "no image" or "not found".
"""
