"""Tests of assay.signing."""
