"""Tests of assay.card."""
