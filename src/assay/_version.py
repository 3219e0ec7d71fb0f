"""The version of assay, in one place (``assay.__version__``; the scanner writes it into its reports)."""

__version__ = "0.1.0"
