"""The fake Stripe API: the store with owners and modes, Stripe-Account scoping, the server."""
