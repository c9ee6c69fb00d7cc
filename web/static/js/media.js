// What a call sends of my camera and microphone, shared by the 1:1 call (call.js) and the group call
// (groupcall.js): which tracks are on, mute, camera off and on again, and telling the room (`media`).
// A subclass sets `this.signaling` and `this.stream` and says how a new camera track (or none) reaches its peer
// connection: `sendVideo(track, old)`.

const CAMERA = { video: { width: { ideal: 640 }, height: { ideal: 480 } } };

export class LocalMedia extends EventTarget {
  /** My track of this kind (a subclass may count only some, e.g. live ones), or null. */
  track(kind) {
    return this.stream.getTracks().find((t) => t.kind === kind && this.counts(t)) || null;
  }

  counts() {
    return true;
  }

  get audioOn() {
    const track = this.track('audio');
    return !!track && track.enabled;
  }

  get videoOn() {
    const track = this.track('video');
    return !!track && track.enabled && track.readyState === 'live';
  }

  setAudio(on) {
    const track = this.track('audio');
    if (track) track.enabled = on;
    this.sendMedia();
  }

  /** Camera off stops the camera itself (its light goes off); on asks for it again. */
  async setVideo(on) {
    const old = this.track('video');
    if (!on) {
      if (old) {
        old.stop();
        this.stream.removeTrack(old);
      }
      await this.sendVideo(null, old);
    } else if (!old) {
      const got = await navigator.mediaDevices.getUserMedia(CAMERA);
      const track = got.getVideoTracks()[0];
      this.stream.addTrack(track);
      await this.sendVideo(track, null);
    }
    this.sendMedia();
  }

  /** Put `track` (null: no camera) on the peer connection in place of `old`. */
  async sendVideo() {}

  sendMedia() {
    this.signaling.send('media', { audio: this.audioOn, video: this.videoOn });
  }
}
