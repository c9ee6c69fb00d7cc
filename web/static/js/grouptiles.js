// The group room's tiles: one per participant (name, microphone/camera/hand badges, the active speaker
// highlighted, "paused" when the server does not forward their video to us), and the stage for a shared screen.
// Media reaches the tiles as feeds: {from, source: 'audio' | 'camera' | 'screen', track}.
import { say, t } from './i18n.js';

const MODERATION = ['mute', 'stop_video', 'remove'];

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function show(media, track) {
  const current = media.srcObject ? media.srcObject.getTracks()[0] : null;
  if (current === (track || null)) return;
  media.srcObject = track ? new MediaStream([track]) : null;
  if (track) media.play().catch(() => {});
}

export class Tiles extends EventTarget {
  constructor({ list, stage }) {
    super();
    this.list = list;
    this.stage = stage;
    this.stageVideo = stage.querySelector('video');
    this.stageCaption = stage.querySelector('figcaption');
    this.peers = new Map(); // id -> {peer state, el: {...}}
    this.me = null;
    this.moderator = false;
    this.active = [];
    this.paused = new Set();
    this.feeds = [];
  }

  /** Me: my own tile first, showing my local camera (mirrored, muted). */
  setMe(id, name, stream) {
    if (this.me && this.me !== id) this.remove(this.me);
    this.me = id;
    const tile = this.peers.get(id) || this.add({ id, name, role: this.moderator ? 'moderator' : 'member' });
    tile.el.root.classList.add('me');
    say(tile.el.name, t('sup.tile.you', { name }));
    this.local(stream);
  }

  local(stream) {
    const tile = this.peers.get(this.me);
    if (!tile) return;
    const video = stream ? stream.getVideoTracks().find((track) => track.readyState === 'live') : null;
    show(tile.el.video, video || null);
    this.update(this.me, { video: !!video && video.enabled, audio: !!stream && stream.getAudioTracks().some((a) => a.enabled) });
  }

  setModerator(on) {
    this.moderator = on;
    for (const tile of this.peers.values()) this.controls(tile);
  }

  /** Everyone in the call now (welcome, admitted): my tile stays, the others are replaced. */
  reset(peers) {
    for (const id of [...this.peers.keys()]) if (id !== this.me) this.remove(id);
    for (const peer of peers) if (peer.id !== this.me) this.add(peer);
    this.render();
  }

  add(peer) {
    const existing = this.peers.get(peer.id);
    if (existing) return this.update(peer.id, peer);
    const root = element('li', 'tile no-video');
    root.dataset.peer = peer.id;
    const video = element('video');
    Object.assign(video, { autoplay: true, playsInline: true, muted: true });
    const audio = element('audio');
    audio.autoplay = true;
    const initial = element('p', 'tile-initial', (peer.name || '?').trim().charAt(0).toUpperCase());
    initial.setAttribute('aria-hidden', 'true');
    const bar = element('div', 'tile-bar');
    const name = element('span', 'tile-name', peer.name || '');
    const badges = element('span', 'tile-badges');
    bar.append(name, badges);
    const paused = element('p', 'tile-paused', t('sup.tile.paused'));
    paused.hidden = true;
    const mod = element('div', 'tile-mod');
    root.append(video, audio, initial, bar, paused, mod);
    const tile = {
      id: peer.id, name: peer.name || '', role: peer.role || 'member',
      audio: peer.audio !== false, video: peer.video !== false, screen: !!peer.screen, hand: !!peer.hand,
      el: { root, video, audio, name, badges, paused, mod },
    };
    this.peers.set(peer.id, tile);
    if (peer.id === this.me) this.list.prepend(root);
    else this.list.append(root);
    this.controls(tile);
    this.draw(tile);
    return tile;
  }

  remove(id) {
    const tile = this.peers.get(id);
    if (!tile) return;
    tile.el.video.srcObject = null;
    tile.el.audio.srcObject = null;
    tile.el.root.remove();
    this.peers.delete(id);
    this.render();
  }

  update(id, fields) {
    const tile = this.peers.get(id);
    if (!tile) return null;
    for (const key of ['name', 'role', 'audio', 'video', 'screen', 'hand']) {
      if (key in fields && fields[key] !== undefined) tile[key] = fields[key];
    }
    if (fields.name && id !== this.me) say(tile.el.name, fields.name);
    this.draw(tile);
    if ('screen' in fields) this.render();
    return tile;
  }

  name(id) {
    const tile = this.peers.get(id);
    return tile ? tile.name : '';
  }

  setSpeakers(active, paused) {
    this.active = Array.isArray(active) ? active : [];
    this.paused = new Set(Array.isArray(paused) ? paused : []);
    for (const tile of this.peers.values()) this.draw(tile);
  }

  /** The incoming media, as mapped by the server's `tracks` message. */
  setFeeds(feeds) {
    this.feeds = feeds;
    this.render();
  }

  render() {
    const by = new Map();
    for (const feed of this.feeds) {
      if (!by.has(feed.from)) by.set(feed.from, {});
      by.get(feed.from)[feed.source] = feed.track;
    }
    let sharer = null;
    for (const tile of this.peers.values()) {
      const mine = by.get(tile.id) || {};
      if (tile.id !== this.me) {
        show(tile.el.video, mine.camera || null);
        show(tile.el.audio, mine.audio || null);
      }
      tile.hasCamera = tile.id === this.me ? !!tile.el.video.srcObject : !!mine.camera;
      if (mine.screen && !sharer) sharer = { tile, track: mine.screen };
      this.draw(tile);
    }
    this.stage.hidden = !sharer;
    this.stage.parentElement.classList.toggle('sharing', !!sharer);
    show(this.stageVideo, sharer ? sharer.track : null);
    say(this.stageCaption, sharer ? t('sup.stage.caption', { name: sharer.tile.name }) : '');
  }

  draw(tile) {
    const { root, badges, paused } = tile.el;
    const isPaused = tile.id !== this.me && this.paused.has(tile.id);
    const showsVideo = tile.video && !isPaused && (tile.id === this.me ? !!tile.el.video.srcObject : !!tile.hasCamera);
    root.classList.toggle('no-video', !showsVideo);
    root.classList.toggle('speaking', this.active[0] === tile.id);
    root.classList.toggle('hand', tile.hand);
    root.dataset.paused = String(isPaused);
    paused.hidden = !isPaused;
    const words = [];
    if (tile.role === 'moderator') words.push(['', t('sup.tile.moderator')]);
    if (!tile.audio) words.push(['muted', t('sup.tile.muted')]);
    if (!tile.video) words.push(['camera-off', t('sup.tile.camera_off')]);
    if (tile.hand) words.push(['hand', `✋ ${t('sup.tile.hand')}`]);
    if (tile.screen) words.push(['screen', t('sup.tile.sharing')]);
    if (this.active[0] === tile.id) words.push(['speaking visually-hidden', t('sup.tile.speaking')]);
    const key = words.map((w) => w.join(':')).join('|');
    if (badges.dataset.key === key) return;
    badges.dataset.key = key;
    badges.replaceChildren(...words.map(([kind, text]) => element('span', `tile-badge ${kind}`.trim(), text)));
  }

  controls(tile) {
    const { mod } = tile.el;
    const wanted = this.moderator && tile.id !== this.me;
    if (!wanted) {
      mod.replaceChildren();
      return;
    }
    if (mod.childElementCount) return;
    for (const action of MODERATION) {
      if (action === 'remove' && tile.role === 'moderator') continue;
      const button = element('button', action === 'remove' ? 'danger' : '', t(`sup.mod.${action}`));
      button.type = 'button';
      button.dataset.moderate = action;
      button.setAttribute('aria-label', t(`sup.mod.${action}_label`, { name: tile.name }));
      button.addEventListener('click', () => {
        this.dispatchEvent(new CustomEvent('moderate', { detail: { action, id: tile.id, name: tile.name } }));
      });
      mod.append(button);
    }
  }

  clear() {
    for (const id of [...this.peers.keys()]) this.remove(id);
    this.feeds = [];
    this.render();
  }
}
