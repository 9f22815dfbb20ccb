"""Everything that speaks SQL to the user's DuckDB file.

`dbfile` checks a file before DuckDB opens it, `attach` opens it (extensions off, no WAL left behind),
`schema` reads its shape, `pending` selects what is missing, `writes` applies answers with `IS NULL` guards in
the same UPDATE, `refresh` and `journal`-keeping replace values undoably, `waits` and `runlock` keep the
tool's own state beside the data, `toplists` reads what the dashboard shows. `store.Store` is the face the
engine uses. It imports only the shared modules, never sources, engine, reports or the CLI.
"""
