"""The command-line layer: Typer commands that parse options, call the core and render."""
