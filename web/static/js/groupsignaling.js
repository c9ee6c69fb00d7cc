// The socket of a group room (docs/supervision.md): the 1:1 client's framing, reconnecting and events, on
// `/ws/group`; a removal (message `removed`, close 4003) is final like an end: no reconnecting after it.

import { Signaling } from './signaling.js';

const REMOVED = 4003;

export class GroupSignaling extends Signaling {
  constructor(room, path, options = {}) {
    super(room, { path: path || '/ws/group', finalCodes: [REMOVED], ...options });
  }

  emit(type, detail) {
    if (type === 'removed') this.finished = true; // the 4003 close follows: nothing to reconnect to
    super.emit(type, detail);
  }
}
