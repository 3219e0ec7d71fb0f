"""The ``assay`` command line (Typer). One module per command group; each parses, calls the domain, renders."""
