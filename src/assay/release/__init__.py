"""Releases, environments, gates (policies), approvals, waivers, promotion and rollback."""
