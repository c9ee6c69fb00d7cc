// The WebSocket client of docs/signaling.md (protocol version 1).
//
// Events (EventTarget): one per server message type ('welcome', 'lobby', 'offer', ...; detail = the message),
// plus 'open' (detail {reconnected}), 'reconnecting' (detail {attempt, delay}), 'failed' (gave up reconnecting)
// and 'closed' (closed for good: ended, declined, replaced, expired, or left).

const VERSION = 1;
// Closes after which reconnecting would be wrong: policy violation, replaced by another socket, session expired.
const FINAL_CODES = new Set([1008, 4000, 4001]);

export class Signaling extends EventTarget {
  // `room` null: a socket that only listens (no join, no leave), such as /ws/alerts. `path` and `finalCodes` are
  // for the other sockets of the protocol: /ws/group closes a removed participant with 4003, also final.
  constructor(room, { path = '/ws', finalCodes = [], maxAttempts = 8, baseDelay = 500, maxDelay = 8000 } = {}) {
    super();
    this.room = room;
    this.path = path;
    this.finalCodes = new Set([...FINAL_CODES, ...finalCodes]);
    this.maxAttempts = maxAttempts;
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.ws = null;
    this.attempt = 0;
    this.opens = 0;
    this.finished = false; // no more reconnecting
    this.timer = null;
  }

  get url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${this.path}`;
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.finished) return;
    clearTimeout(this.timer);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.opens += 1;
      if (this.room) this.send('join', { room: this.room });
      this.emit('open', { reconnected: this.opens > 1 });
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message.type !== 'string') return;
      if (message.type === 'ended' || message.type === 'declined') this.finished = true;
      this.emit(message.type, message);
    });
    ws.addEventListener('close', (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.finalCodes.has(event.code)) this.finished = true;
      if (this.finished) {
        this.emit('closed', { code: event.code });
      } else {
        this.retry();
      }
    });
  }

  retry() {
    if (this.attempt >= this.maxAttempts) {
      this.finished = true;
      this.emit('failed', {});
      return;
    }
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jitter: half to all of it
    this.attempt += 1;
    this.emit('reconnecting', { attempt: this.attempt, delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Send a message; returns false when the socket is not open (the message is dropped, not queued). */
  send(type, fields = {}) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify({ v: VERSION, type, ...fields }));
    return true;
  }

  /** Leave for good: no reconnecting. */
  close() {
    this.finished = true;
    clearTimeout(this.timer);
    if (this.ws) {
      if (this.room) this.send('leave');
      this.ws.close(1000);
    }
  }

  /** Tests: drop the socket as a network failure would; the client reconnects and joins again. */
  drop() {
    if (this.ws) this.ws.close(3000, 'test drop');
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
