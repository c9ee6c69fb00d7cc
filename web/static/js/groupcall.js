// The group call's media: ONE RTCPeerConnection to the SFU (the peer "sfu", docs/supervision.md).
// The client offers first to publish its camera and microphone; after that the SFU offers whenever it adds
// receiving transceivers, and the client answers. The client is the polite side of perfect negotiation: an SFU
// offer that crosses ours wins (ours is rolled back; the SFU says `negotiation_busy` to it), and we offer again
// once we have answered. Every step on the peer connection runs in one queue, so none interleave.
// Events: 'feeds' (detail: [{from, source, track}]), 'state' (detail {state}: the connection state).

import { LocalMedia } from './media.js';

const SFU = 'sfu';
const BUSY_WAIT_MS = 2500; // after negotiation_busy, how long the SFU's own offer gets to arrive
const FAILED_WAIT_MS = 2000; // a failed connection gets an ICE restart after this long
const RECOVER_EVERY_MS = 5000; // at most one reconnect-to-recover this often

/**
 * Keep the RTP header extension ids this connection has already negotiated: with BUNDLE, browsers refuse a
 * re-offer that renumbers them (an offerer such as aiortc numbers them afresh in each offer). Our answer then
 * carries the same ids, and the SFU sends with the ids of the answer. Ids of extensions new to the connection
 * get numbers not yet taken. Nothing changes when the offer already keeps them.
 */
export function keepExtensionIds(sdp, current) {
  const known = new Map(); // uri -> id
  for (const match of (current || '').matchAll(/^a=extmap:(\d+)(?:\/\w+)? (\S+)/gm)) known.set(match[2], Number(match[1]));
  if (known.size === 0) return sdp;
  const taken = new Set(known.values());
  const fresh = new Map();
  const idFor = (uri) => {
    if (known.has(uri)) return known.get(uri);
    if (!fresh.has(uri)) {
      let id = 1;
      while (taken.has(id) && id < 255) id += 1;
      taken.add(id);
      fresh.set(uri, id);
    }
    return fresh.get(uri);
  };
  return sdp.replace(/^a=extmap:(\d+)((?:\/\w+)?) (\S+)/gm, (line, id, direction, uri) => `a=extmap:${idFor(uri)}${direction} ${uri}`);
}

export class GroupCall extends LocalMedia {
  constructor({ signaling, stream }) {
    super();
    this.signaling = signaling;
    this.stream = stream; // my camera and microphone (may have no video, or nothing)
    this.iceServers = [];
    this.pc = null;
    this.active = false;
    this.queue = Promise.resolve();
    this.pending = []; // SFU candidates that came before its first description
    this.mapping = new Map(); // mid -> {from, source}
    this.screenStream = null;
    this.resetNegotiation();
    const on = (type, handler) => signaling.addEventListener(type, (event) => handler(event.detail));
    on('offer', (m) => m.from === SFU && this.onOffer(m));
    on('answer', (m) => m.from === SFU && this.onAnswer(m));
    on('candidate', (m) => m.from === SFU && this.onCandidate(m));
    on('tracks', (m) => this.onTracks(m));
    on('error', (m) => m.code === 'negotiation_busy' && this.onBusy());
  }

  resetNegotiation() {
    this.needsOffer = false; // offer again once the current exchange is over
    this.offers = 0; // offers sent on this peer connection
    this.busyExpected = 0; // our offers rolled back for an SFU offer: the SFU will say negotiation_busy to each
    this.busyEarly = false; // negotiation_busy came before the SFU offer that caused it
    clearTimeout(this.busyTimer);
  }

  run(step) {
    this.queue = this.queue.then(step).catch((error) => {
      console.warn('group negotiation failed, reconnecting', error);
      this.recover();
    });
    return this.queue;
  }

  /** The negotiation is stuck (an SFU offer we cannot take): reconnect, which starts a fresh connection. */
  recover() {
    if (!this.active) return;
    const now = performance.now();
    if (now - (this.recoveredAt || -Infinity) < RECOVER_EVERY_MS) return;
    this.recoveredAt = now;
    this.signaling.drop();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- life ------------------------------------------------------------------------------------------------

  /** In the call (welcome in_call, admitted, and again after each reconnect): a fresh connection, our offer. */
  start(iceServers) {
    if (Array.isArray(iceServers)) this.iceServers = iceServers;
    this.active = true;
    this.restart();
    this.sendMedia();
    if (this.screenTrack) this.signaling.send('screen', { on: true });
  }

  restart() {
    this.fresh();
    this.negotiate();
  }

  stop() {
    this.active = false;
    clearTimeout(this.failTimer);
    this.resetNegotiation();
    if (this.pc) this.pc.close();
    this.pc = null;
    this.mapping = new Map();
    for (const track of this.stream.getTracks()) track.stop();
    this.stopScreenTrack();
  }

  fresh() {
    if (this.pc) this.pc.close();
    this.pending = [];
    this.mapping = new Map();
    this.resetNegotiation();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const publish = (kind) => {
      const track = this.track(kind);
      return track
        ? pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.stream] })
        : pc.addTransceiver(kind, { direction: 'recvonly' });
    };
    this.mic = publish('audio');
    this.cam = publish('video');
    this.screenTx = this.screenTrack
      ? pc.addTransceiver(this.screenTrack, { direction: 'sendonly', streams: [this.screenStream] })
      : null;
    pc.addEventListener('icecandidate', (event) => {
      if (pc !== this.pc) return;
      this.signaling.send('candidate', { to: SFU, candidate: event.candidate ? event.candidate.toJSON() : null });
    });
    pc.addEventListener('track', () => pc === this.pc && this.emitFeeds());
    pc.addEventListener('connectionstatechange', () => pc === this.pc && this.onConnectionState(pc));
    this.emitFeeds();
    return pc;
  }

  onConnectionState(pc) {
    this.emit('state', { state: pc.connectionState });
    clearTimeout(this.failTimer);
    if (pc.connectionState !== 'failed') return;
    this.failTimer = setTimeout(() => {
      if (pc !== this.pc || pc.connectionState !== 'failed' || !this.active) return;
      pc.restartIce();
      this.negotiate({ iceRestart: true });
    }, FAILED_WAIT_MS);
  }

  // ---- negotiation -----------------------------------------------------------------------------------------

  /** Offer to the SFU now, or as soon as the exchange in progress is over. */
  negotiate(options = {}) {
    return this.run(async () => {
      const pc = this.pc;
      if (!pc || !this.active || !this.signaling.connected) return;
      if (pc.signalingState !== 'stable') {
        this.needsOffer = true;
        return;
      }
      this.needsOffer = false;
      const offer = await pc.createOffer(options);
      if (pc !== this.pc || pc.signalingState !== 'stable') {
        this.needsOffer = true;
        return;
      }
      await pc.setLocalDescription(offer);
      this.offers += 1;
      this.signaling.send('offer', { to: SFU, sdp: pc.localDescription.sdp });
    });
  }

  onOffer(m) {
    return this.run(async () => {
      const pc = this.pc;
      if (!pc || !this.active) return;
      if (pc.signalingState === 'have-local-offer') {
        // Polite: the SFU's offer wins; ours goes back and is made again after we answer.
        await pc.setLocalDescription({ type: 'rollback' });
        this.needsOffer = true;
        if (this.busyEarly) this.busyEarly = false;
        else this.busyExpected += 1;
      }
      const negotiated = pc.currentLocalDescription ? pc.currentLocalDescription.sdp : '';
      await pc.setRemoteDescription({ type: 'offer', sdp: keepExtensionIds(m.sdp, negotiated) });
      await this.flush(pc);
      await pc.setLocalDescription(await pc.createAnswer());
      if (pc !== this.pc) return;
      this.signaling.send('answer', { to: SFU, sdp: pc.localDescription.sdp });
      this.emitFeeds();
      if (this.needsOffer) this.negotiate();
    });
  }

  onAnswer(m) {
    return this.run(async () => {
      const pc = this.pc;
      if (!pc || pc.signalingState !== 'have-local-offer') return; // an answer to an offer we rolled back
      await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      await this.flush(pc);
      this.emitFeeds();
      if (this.needsOffer) this.negotiate();
    });
  }

  /** The SFU refused our offer because it is offering too: its offer follows (or has come already). */
  onBusy() {
    if (this.busyExpected > 0) {
      this.busyExpected -= 1; // we already rolled back and answered that SFU offer
      return;
    }
    this.busyEarly = true;
    this.needsOffer = true;
    const offers = this.offers;
    const pc = this.pc;
    clearTimeout(this.busyTimer);
    // Should the SFU's offer never come, take ours back and try again.
    this.busyTimer = setTimeout(() => {
      this.run(async () => {
        if (pc !== this.pc || offers !== this.offers || pc.signalingState !== 'have-local-offer') return;
        this.busyEarly = false;
        await pc.setLocalDescription({ type: 'rollback' });
        this.negotiate();
      });
    }, BUSY_WAIT_MS);
  }

  onCandidate(m) {
    const pc = this.pc;
    if (!pc) return;
    if (!pc.remoteDescription) {
      this.pending.push(m.candidate);
      return;
    }
    pc.addIceCandidate(m.candidate || undefined).catch(() => {});
  }

  async flush(pc) {
    const queued = this.pending;
    this.pending = [];
    for (const candidate of queued) await pc.addIceCandidate(candidate || undefined).catch(() => {});
  }

  // ---- what we receive -------------------------------------------------------------------------------------

  onTracks(m) {
    this.mapping = new Map((Array.isArray(m.tracks) ? m.tracks : []).map((t) => [String(t.mid), t]));
    this.emitFeeds();
  }

  /** The incoming tracks with whose feed each carries: by the transceiver's mid, as the `tracks` message says. */
  feeds() {
    if (!this.pc) return [];
    const found = [];
    for (const transceiver of this.pc.getTransceivers()) {
      const feed = transceiver.mid === null ? null : this.mapping.get(transceiver.mid);
      const track = transceiver.receiver && transceiver.receiver.track;
      if (feed && track && !transceiver.stopped) found.push({ from: feed.from, source: feed.source, track });
    }
    return found;
  }

  emitFeeds() {
    this.emit('feeds', this.feeds());
  }

  // ---- what we send (media.js): live tracks only; a new camera track goes to the camera's transceiver ----------

  counts(track) {
    return track.readyState === 'live';
  }

  async sendVideo(track, old) {
    if (!this.cam || (!track && !old)) return;
    await this.cam.sender.replaceTrack(track);
    if (track && !this.cam.direction.startsWith('send')) {
      this.cam.direction = 'sendrecv'; // joined without a camera: publishing needs a new offer
      this.negotiate();
    }
  }

  get sharing() {
    return !!this.screenTrack;
  }

  /** Share a screen: a second video track in its own transceiver, announced, then offered. */
  async startScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    if ('contentHint' in track) track.contentHint = 'detail';
    track.addEventListener('ended', () => this.stopScreen());
    this.screenStream = stream;
    this.screenTrack = track;
    if (this.pc) {
      if (this.screenTx && !this.screenTx.stopped) {
        await this.screenTx.sender.replaceTrack(track);
        this.screenTx.direction = 'sendonly';
      } else {
        this.screenTx = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      }
    }
    this.signaling.send('screen', { on: true });
    this.negotiate();
    this.emit('screen', { on: true });
  }

  async stopScreen() {
    if (!this.screenTrack) return;
    this.stopScreenTrack();
    if (this.screenTx && !this.screenTx.stopped) {
      await this.screenTx.sender.replaceTrack(null).catch(() => {});
      this.screenTx.direction = 'inactive';
    }
    this.signaling.send('screen', { on: false });
    this.negotiate();
    this.emit('screen', { on: false });
  }

  stopScreenTrack() {
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    this.screenStream = null;
  }
}
