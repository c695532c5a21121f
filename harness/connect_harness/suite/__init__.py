"""The endpoint contract catalogue as a pytest test module.

Run it against any endpoint with ``pytest -p connect_harness --pyargs connect_harness.suite
--connect-url http://127.0.0.1:4242/webhook --connect-secret whsec_...`` (or ``--connect-app
module:app``). One test per check; a failing test prints the check's failing findings with a curl
command that replays each.

To run it with your own ``conftest.py`` fixtures (``connect_target``, ``connect_secret``,
``stripe_api``), put one line in a test module of yours: ``from connect_harness.suite import *``.
"""

from connect_harness.suite.test_catalogue import test_contract, test_thin_contract

__all__ = ["test_contract", "test_thin_contract"]
