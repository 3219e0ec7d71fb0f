"""The ``assay`` command line: one argparse parser (``main``), one module per command group; each parses, calls the
domain, renders."""
