// The socket of a group room (docs/supervision.md): the 1:1 client's framing, reconnecting and events, on
// `/ws/group`; a removal (message `removed`, close 4003) is final like an end: no reconnecting after it.

import { Signaling } from './signaling.js';

const REMOVED = 4003;

export class GroupSignaling extends Signaling {
  constructor(room, path, options) {
    super(room, options);
    this.path = path || '/ws/group';
  }

  get url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${this.path}`;
  }

  connect() {
    super.connect();
    const ws = this.ws;
    if (!ws) return;
    // Runs after the base class's own close listener: undo its reconnect when the close says we were removed.
    ws.addEventListener('close', (event) => {
      if (event.code !== REMOVED || this.ws !== null || this.closedFinal) return;
      this.finished = true;
      clearTimeout(this.timer);
      this.closedFinal = true;
      this.emit('closed', { code: event.code });
    });
  }

  emit(type, detail) {
    if (type === 'removed') this.finished = true; // the 4003 close follows: nothing to reconnect to
    if (type === 'closed') {
      if (this.closedFinal) return;
      this.closedFinal = true;
    }
    super.emit(type, detail);
  }
}
