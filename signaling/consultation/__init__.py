"""The 1:1 consultation socket ``/ws``: its hub (:mod:`.hub`) and the room as a pure state machine (:mod:`.room`).
The messages only this socket uses are in :mod:`signaling.protocol.consultation`."""
