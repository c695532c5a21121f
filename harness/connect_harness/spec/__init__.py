"""Stripe's API description -> contracts (build) and their run-time view (load, select by API version, validate, export a standalone schema)."""
