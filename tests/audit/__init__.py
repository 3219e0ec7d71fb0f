"""Tests of assay.audit."""
