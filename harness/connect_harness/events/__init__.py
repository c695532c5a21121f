"""What Stripe sends: v1 snapshot events, ids, the objects and everything they reference."""
