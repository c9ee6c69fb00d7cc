"""What the tests, the benchmarks (``tests/bench``) and the fuzzer (``tests/fuzz``) share, written once.

No test module imports another test module (``tests/unit/test_test_layout.py`` fails if one does): what two of
them need lives here, and pytest fixtures live in the ``conftest.py`` files. Asserts in these modules are rewritten
by pytest like the tests' own (``tests/conftest.py`` registers the package).

- :mod:`~tests.helpers.factories` -- rows bound to a running app: staff, consultations, supervision rooms.
- :mod:`~tests.helpers.web` -- the in-process app over HTTP: the ``make_client`` fixture's type, CSRF tokens, login.
- :mod:`~tests.helpers.sockets` -- signaling sockets as clients see them: :class:`Peer`, the :class:`Harness` of
  browsers for ``/ws`` and its ``/ws/group`` and ``/ws/alerts`` kinds, refused handshakes.
- :mod:`~tests.helpers.media` -- generated video and audio for aiortc participants, told apart by their pixels.
- :mod:`~tests.helpers.services` -- the local PostgreSQL server: a fresh database per test, skip or fail without it.
- :mod:`~tests.helpers.ports` -- a free port (standard library only: benchmark server processes use it).
- :mod:`~tests.helpers.browser` -- Chromium and a server for it outside pytest; the browser fixtures' types.
- :mod:`~tests.helpers.pages` -- what people do in the browser, step by step (log in, knock, wait for media).
"""
