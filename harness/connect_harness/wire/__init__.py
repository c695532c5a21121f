"""An event on the wire: signing, the bad variants, the request Stripe sends."""
