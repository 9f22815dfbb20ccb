"""What the commands print: pure functions from result records to text (`run`, `plan`, `refresh`), JSON and the
HTML page (`html`); `text` fits lines to the terminal. Nothing here reads a file or the network; it may import
the engine's result records, the store's and the sources' types, and the shared modules.
"""
