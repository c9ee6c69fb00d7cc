"""Protocol fuzzing, shared by the tests and ``make fuzz``: hypothesis strategies built from the message structs
(:mod:`tests.fuzz.strategies`), a reference reading of ``docs/signaling.md`` that says what the server must answer
to any frame (:mod:`tests.fuzz.oracle`), and drivers that send frames over real sockets to participants of real
rooms and check every answer and the room after each batch (:mod:`tests.fuzz.sockets`).

``python -m tests.fuzz`` (``make fuzz``) runs 100,000 messages and prints ``BENCH`` lines like the benchmarks.
"""
