"""The group room socket ``/ws/group`` (supervision): its hub (:mod:`.hub`, which drives the SFU of
:mod:`signaling.sfu`) and the room as a pure state machine (:mod:`.room`, with its members and effects in
:mod:`.values`). The messages only group rooms use are in :mod:`signaling.protocol.group`."""
