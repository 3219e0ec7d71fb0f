"""Tests of assay.bom."""
