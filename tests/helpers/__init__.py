"""What the tests, the benchmarks (``tests/bench``) and the fuzzer (``tests/fuzz``) share, written once.

No test module imports another test module (``tests/unit/test_test_layout.py`` fails if one does): what two of
them need lives here, and pytest fixtures live in the ``conftest.py`` files. Asserts in these modules are rewritten
by pytest like the tests' own (``tests/conftest.py`` registers the package).

- :mod:`~tests.helpers.factories` -- rows: staff (``make_staff``, ``make_operators``), services (``make_service``;
  ``open_service``, open all day every day), consultations, supervision rooms, a citizen's case, a booking for the
  outbox tests; ``count`` of rows.
- :mod:`~tests.helpers.booking` -- free slots, and one booking as the domain, the JSON API and the public page take it.
- :mod:`~tests.helpers.web` -- the in-process app over HTTP: the ``make_client`` fixture's type, CSRF tokens, login.
- :mod:`~tests.helpers.sockets` -- signaling sockets as clients see them: :class:`Peer`, the :class:`Harness` of
  browsers for ``/ws`` and its ``/ws/group`` and ``/ws/alerts`` kinds, refused handshakes.
- :mod:`~tests.helpers.media` -- generated video and audio for aiortc participants, told apart by their pixels.
- :mod:`~tests.helpers.mail` -- a real SMTP server that keeps what it receives; a booking's emails in the outbox.
- :mod:`~tests.helpers.services` -- the local PostgreSQL server (a fresh database per test, skip or fail without
  it); a migrated database without an app (``open_db``).
- :mod:`~tests.helpers.ports` -- a free port, waiting for a server process (nothing heavier than aiohttp).
- :mod:`~tests.helpers.cli` -- ``run.py`` in a child process.
- :mod:`~tests.helpers.browser` -- Chromium and a server for it outside pytest; the browser fixtures' types.
- :mod:`~tests.helpers.pages` -- what people do in the browser, step by step (log in, knock, start a call).
"""
