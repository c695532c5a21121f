"""Webhook endpoints the check catalogue is proven against.

``core.WebhookCore`` is a correct handler with no framework in it; ``flask_endpoint``, ``django_endpoint``
and ``starlette_endpoint`` serve it the way each framework should (raw body, 400 on a bad signature or
body, 2xx for every event). A broken endpoint is the Flask one with exactly one named bug switched on
(``core.BUGS``), so it fails the check that bug is for and, ideally, nothing else.
"""
