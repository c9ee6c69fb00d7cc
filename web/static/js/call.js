// The 1:1 call: one RTCPeerConnection, the operator always offers, the citizen answers; recovery from network
// trouble (ICE restart, then a fresh peer connection) without reloading the page.
// Events: 'state' (detail {state: 'connecting' | 'connected' | 'reconnecting'}), 'remote-media' (detail {audio,
// video}), 'track' (detail {stream}).

import { LocalMedia } from './media.js';

const BAD_GRACE_MS = 2000; // "disconnected" this long counts as trouble
const RESTART_WAIT_MS = 4000; // an ICE restart gets this long before a fresh peer connection
const FRESH_WAIT_MS = 6000; // a fresh peer connection gets this long before the next one
const ASK_EVERY_MS = 4000; // the citizen asks for a new offer at most this often

function sessionId(sdp) {
  const match = /^o=\S+ (\d+) /m.exec(sdp || '');
  return match ? match[1] : '';
}

export class Call extends LocalMedia {
  constructor({ signaling, role, stream }) {
    super();
    this.signaling = signaling;
    this.role = role;
    this.stream = stream; // local tracks (may have no video, or nothing at all)
    this.iceServers = [];
    this.peerId = null;
    this.peerName = '';
    this.remoteMedia = { audio: true, video: true };
    this.pc = null;
    this.pending = []; // remote candidates that arrived before the remote description
    this.remoteSession = '';
    this.stage = 0; // 0 fine, 1 ICE restart tried, 2 fresh peer connections
    this.lastAction = 0;
    this.badSince = null;
    this.state = 'connecting';
    this.active = false;
    this.wasConnected = false;
    this.on('welcome', (m) => this.onWelcome(m));
    this.on('admitted', (m) => this.onPeers(m.peers || []));
    this.on('peer_joined', (m) => this.onPeerJoined(m));
    this.on('peer_left', (m) => this.onPeerLeft(m));
    this.on('offer', (m) => this.onOffer(m));
    this.on('answer', (m) => this.onAnswer(m));
    this.on('candidate', (m) => this.onCandidate(m));
    this.on('renegotiate', () => this.onRenegotiate());
    this.on('media', (m) => this.remote({ audio: !!m.audio, video: !!m.video }));
  }

  on(type, handler) {
    this.signaling.addEventListener(type, (event) => handler(event.detail));
  }

  remote(media) {
    this.remoteMedia = media;
    this.emit('remote-media', media);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Start taking part (the citizen: once admitted; the operator: at once). */
  start() {
    if (this.active) return;
    this.active = true;
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), 500);
  }

  stop() {
    this.active = false;
    clearInterval(this.timer);
    if (this.pc) this.pc.close();
    this.pc = null;
    for (const track of this.stream.getTracks()) track.stop();
  }

  get connected() {
    return this.pc !== null && this.pc.connectionState === 'connected';
  }

  onWelcome(m) {
    this.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
    if (m.state === 'in_call') this.onPeers(m.peers || []);
  }

  onPeers(peers) {
    const other = peers.find((p) => p.role !== this.role);
    if (!other) return;
    this.peerId = other.id;
    this.peerName = other.name || this.peerName;
    this.emit('peer', { name: other.name, present: true });
    if (typeof other.audio === 'boolean') this.remote({ audio: other.audio, video: other.video !== false });
    this.start();
    if (this.role === 'operator' && !this.connected) this.act(true);
  }

  onPeerJoined(m) {
    if (m.role === this.role) return;
    this.peerId = m.id;
    this.peerName = m.name || this.peerName;
    this.emit('peer', { name: m.name, present: true });
    this.start();
    this.sendMedia();
    if (this.role === 'operator' && !this.connected) this.act(true);
  }

  onPeerLeft(m) {
    if (m.id !== this.peerId) return;
    this.peerId = null;
    this.emit('peer', { present: false });
  }

  // ---- the peer connection -------------------------------------------------------------------------------

  fresh() {
    if (this.pc) this.pc.close();
    this.pending = [];
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    for (const kind of ['audio', 'video']) {
      const track = this.stream.getTracks().find((t) => t.kind === kind);
      if (track) pc.addTrack(track, this.stream);
      else if (this.role === 'operator') pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    pc.addEventListener('icecandidate', (event) => {
      if (pc !== this.pc || !this.peerId) return;
      this.signaling.send('candidate', { to: this.peerId, candidate: event.candidate ? event.candidate.toJSON() : null });
    });
    pc.addEventListener('track', (event) => {
      if (pc !== this.pc) return;
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.emit('track', { stream });
    });
    pc.addEventListener('connectionstatechange', () => pc === this.pc && this.tick());
    return pc;
  }

  async offer({ restart = false } = {}) {
    const pc = restart && this.pc && this.pc.signalingState !== 'closed' ? this.pc : this.fresh();
    try {
      if (restart) pc.restartIce();
      const offer = await pc.createOffer(restart ? { iceRestart: true } : {});
      await pc.setLocalDescription(offer);
      if (pc === this.pc && this.peerId) this.signaling.send('offer', { to: this.peerId, sdp: pc.localDescription.sdp });
    } catch (error) {
      console.warn('offer failed', error);
    }
  }

  async onOffer(m) {
    if (this.role !== 'citizen') return;
    this.peerId = m.from;
    this.start();
    const session = sessionId(m.sdp);
    let pc = this.pc;
    if (!pc || pc.signalingState === 'closed' || session !== this.remoteSession) pc = this.fresh();
    this.remoteSession = session;
    try {
      await this.accept(pc, m.sdp);
    } catch {
      pc = this.fresh(); // the offer does not fit the old connection: start over with it
      await this.accept(pc, m.sdp).catch((error) => console.warn('answer failed', error));
    }
  }

  async accept(pc, sdp) {
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await this.flush(pc);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (pc === this.pc) this.signaling.send('answer', { to: this.peerId, sdp: pc.localDescription.sdp });
    this.lastAction = performance.now();
  }

  async onAnswer(m) {
    const pc = this.pc;
    if (this.role !== 'operator' || !pc || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      await this.flush(pc);
    } catch (error) {
      console.warn('answer rejected, starting over', error);
      this.offer();
    }
  }

  async onCandidate(m) {
    const pc = this.pc;
    if (!pc) return;
    if (!pc.remoteDescription) {
      this.pending.push(m.candidate);
      return;
    }
    await pc.addIceCandidate(m.candidate || undefined).catch(() => {});
  }

  async flush(pc) {
    const queued = this.pending;
    this.pending = [];
    for (const candidate of queued) await pc.addIceCandidate(candidate || undefined).catch(() => {});
  }

  // ---- recovery ------------------------------------------------------------------------------------------

  onRenegotiate() {
    if (this.role !== 'operator' || !this.peerId) return;
    if (performance.now() - this.lastAction < 1500) return;
    // The citizen has lost the connection; if this side still thinks it is up, only a fresh one will do.
    if (this.connected) this.stage = 1;
    this.act(true);
  }

  /** The operator's next step: first offer, ICE restart, or a fresh peer connection. */
  act(now = false) {
    if (!this.peerId || !this.signaling.connected) return;
    const since = performance.now() - this.lastAction;
    if (!now && since < (this.stage === 1 ? RESTART_WAIT_MS : FRESH_WAIT_MS)) return;
    this.lastAction = performance.now();
    if (!this.pc || this.pc.signalingState === 'closed') {
      this.offer();
    } else if (this.stage === 0 && this.wasConnected) {
      this.stage = 1;
      this.offer({ restart: true });
    } else {
      this.stage = 2;
      this.offer();
    }
  }

  tick() {
    if (!this.active) return;
    const state = this.pc ? this.pc.connectionState : 'new';
    const now = performance.now();
    if (state === 'connected') {
      this.badSince = null;
      this.stage = 0;
      if (!this.wasConnected) this.sendMedia();
      this.wasConnected = true;
      this.setState('connected');
      return;
    }
    if (!this.peerId) {
      // The other person is not here (left, or their page is reloading): wait for them, do not redial.
      this.setState('idle');
      return;
    }
    this.setState(this.wasConnected ? 'reconnecting' : 'connecting');
    const broken = state === 'failed' || state === 'closed';
    if (this.badSince === null) this.badSince = now;
    if (!broken && now - this.badSince < BAD_GRACE_MS && state !== 'new') return;
    if (this.role === 'operator') {
      this.act();
    } else if (this.peerId && now - this.lastAction > ASK_EVERY_MS && (broken || now - this.badSince > BAD_GRACE_MS)) {
      // Citizen: no connection (or none yet, long after being let in): ask the operator for a new offer.
      if (this.signaling.send('renegotiate', { to: this.peerId })) this.lastAction = now;
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', { state });
  }

  // ---- local media (media.js): a new camera track goes on the peer connection --------------------------------

  async sendVideo(track) {
    await this.replace('video', track);
  }

  async replace(kind, track) {
    if (!this.pc) return;
    const transceiver = this.pc.getTransceivers().find((t) => t.receiver.track && t.receiver.track.kind === kind);
    if (!transceiver) return;
    await transceiver.sender.replaceTrack(track);
    if (track && !(transceiver.currentDirection || '').startsWith('send')) {
      // Joined without a camera: sending video needs a new negotiation, which the operator starts.
      transceiver.direction = 'sendrecv';
      if (this.role === 'operator') this.act(true);
      else if (this.peerId) this.signaling.send('renegotiate', { to: this.peerId });
    }
  }
}
