"""Tests of assay.scan."""
