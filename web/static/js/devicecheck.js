// The device check: browser support, camera preview, microphone level, speaker test, plain-language help.
// The markup lives in the page; this module finds its parts by [data-check="..."] inside a root element.
import { audioContext, speakerTest } from './sound.js';
import { say, t } from './i18n.js';

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** What the browser lacks to make a call (empty when all is there). */
export function missingSupport() {
  const missing = [];
  if (!('RTCPeerConnection' in window)) missing.push('RTCPeerConnection');
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) missing.push('getUserMedia');
  if (!('WebSocket' in window)) missing.push('WebSocket');
  return missing;
}

export class DeviceCheck extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.stream = new MediaStream();
    this.supported = false;
    this.meterFrame = 0;
    this.heard = false;
    const part = (name) => root.querySelector(`[data-check="${name}"]`);
    this.el = {
      preview: part('preview'),
      browser: part('browser'),
      camera: part('camera'),
      mic: part('mic'),
      meter: part('meter'),
      speaker: part('speaker'),
      help: part('help'),
      retry: part('retry'),
      audioOnly: part('audio-only'),
    };
    this.el.speaker?.addEventListener('click', () => {
      speakerTest();
      say(this.el.help, '');
    });
    this.el.retry?.addEventListener('click', () => this.start());
    this.el.audioOnly?.addEventListener('change', () => this.setAudioOnly(this.el.audioOnly.checked));
  }

  get audioOnly() {
    return this.stream.getVideoTracks().length === 0;
  }

  status(name, key, state) {
    const el = this.el[name];
    if (!el) return;
    el.dataset.state = state;
    say(el.querySelector('.value') || el, t(key));
  }

  help(key, params) {
    if (!this.el.help) return;
    this.el.help.hidden = !key;
    say(this.el.help, key ? t(key, params) : '');
    if (this.el.retry) this.el.retry.hidden = !key || key === 'call.check.help.nocamera';
  }

  /** Run the checks; resolves when done (also when a device is missing: the person may still join). */
  async start() {
    const missing = missingSupport();
    this.supported = missing.length === 0;
    this.status('browser', this.supported ? 'call.check.ok' : 'call.check.unsupported', this.supported ? 'ok' : 'bad');
    if (!this.supported) {
      this.help('call.check.help.unsupported', { phone: this.root.dataset.phone || '' });
      this.dispatchEvent(new Event('done'));
      return;
    }
    this.help(null);
    this.stopTracks();
    const wantVideo = !(this.el.audioOnly && this.el.audioOnly.checked);
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: wantVideo ? VIDEO : false });
    } catch (error) {
      stream = await this.recover(error, wantVideo);
    }
    this.stream = stream || new MediaStream();
    this.show();
    this.dispatchEvent(new Event('done'));
  }

  async recover(error, wantVideo) {
    const name = error && error.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      this.status('camera', 'call.check.blocked', 'bad');
      this.status('mic', 'call.check.blocked', 'bad');
      this.help('call.check.help.denied');
      return null;
    }
    if (wantVideo) {
      // No camera (or it is busy): try the microphone alone, and say so.
      try {
        const audio = await navigator.mediaDevices.getUserMedia({ audio: AUDIO });
        this.help(name === 'NotReadableError' ? 'call.check.help.busy' : 'call.check.help.nocamera');
        return audio;
      } catch (second) {
        error = second;
      }
    }
    this.status('mic', 'call.check.missing', 'bad');
    this.help(error && error.name === 'NotReadableError' ? 'call.check.help.busy' : 'call.check.help.nodevice');
    return null;
  }

  show() {
    const hasVideo = this.stream.getVideoTracks().length > 0;
    const hasAudio = this.stream.getAudioTracks().length > 0;
    if (this.el.preview) {
      this.el.preview.srcObject = hasVideo ? this.stream : null;
      this.el.preview.hidden = !hasVideo;
      const box = this.el.preview.closest('.preview-box');
      if (box) box.hidden = !hasVideo;
    }
    const audioOnlyChosen = this.el.audioOnly && this.el.audioOnly.checked;
    if (hasVideo) this.status('camera', 'call.check.ok', 'ok');
    else if (audioOnlyChosen) this.status('camera', 'call.check.off', 'off');
    else if (this.el.camera?.dataset.state !== 'bad') this.status('camera', 'call.check.missing', 'bad');
    if (hasAudio) this.status('mic', 'call.check.speak', 'pending');
    this.meter(hasAudio);
  }

  meter(on) {
    cancelAnimationFrame(this.meterFrame);
    if (this.source) this.source.disconnect();
    this.source = null;
    if (!on || !this.el.meter) return;
    const ctx = audioContext();
    if (!ctx) return;
    this.source = ctx.createMediaStreamSource(this.stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    this.source.connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    const tick = () => {
      analyser.getByteTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += (s - 128) * (s - 128);
      const level = Math.min(1, (Math.sqrt(sum / samples.length) / 128) * 4);
      this.el.meter.style.width = `${Math.round(level * 100)}%`;
      if (!this.heard && level > 0.05) {
        this.heard = true;
        this.status('mic', 'call.check.ok', 'ok');
      }
      this.meterFrame = requestAnimationFrame(tick);
    };
    tick();
  }

  async setAudioOnly(audioOnly) {
    if (audioOnly) {
      for (const track of this.stream.getVideoTracks()) {
        track.stop();
        this.stream.removeTrack(track);
      }
      this.show();
      return;
    }
    try {
      const video = await navigator.mediaDevices.getUserMedia({ video: VIDEO });
      for (const track of video.getVideoTracks()) this.stream.addTrack(track);
      this.help(null);
    } catch (error) {
      this.help(error.name === 'NotAllowedError' ? 'call.check.help.denied' : 'call.check.help.nocamera');
    }
    this.show();
  }

  /** Stop the level meter (leaving the check screen); the tracks go on into the call. */
  finish() {
    this.meter(false);
    if (this.el.preview) this.el.preview.srcObject = null;
  }

  stopTracks() {
    for (const track of this.stream.getTracks()) track.stop();
  }
}
