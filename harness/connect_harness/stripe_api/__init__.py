"""The fake Stripe API: routes from the description, the store, scoping, validation, faults."""
