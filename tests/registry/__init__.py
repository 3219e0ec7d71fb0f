"""Tests of assay.registry."""
