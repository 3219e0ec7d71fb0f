"""Tests of assay.release."""
