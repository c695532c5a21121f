"""Stripe's lifecycles as data: what state each event type puts its object in, how each object moves
between states (and the errors Stripe gives for a move its state does not allow), and which API
action emits which events.

This package sits below both :mod:`connect_harness.events` (which renders events in the state their
type names) and :mod:`connect_harness.stripe_api` (whose objects live through these lifecycles): it
imports only :mod:`connect_harness.spec` and :mod:`connect_harness.errors`. Every rule names the
page of Stripe's documentation it comes from; where the documentation is silent, the table says so.
"""
