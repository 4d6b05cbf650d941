"""Storms on Locust: Duplex's clients as Locust users, with each user's ledger aggregated.

``locustfile.py`` (and ``loop_thread.py``, which it uses) import Locust and gevent: they are
loaded only in the storm's own processes (Locust's master and workers). ``aggregate.py`` and
``cli.py`` import neither: the GUI and ``main.py storm`` use them.
"""
