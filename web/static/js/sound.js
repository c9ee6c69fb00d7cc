// Sounds made with WebAudio (no audio files): the speaker test and the operator's "someone is waiting" chime.
let context = null;

export function audioContext() {
  if (context === null) {
    const Ctor = window.AudioContext || window.webkitAudioContext;
    if (!Ctor) return null;
    context = new Ctor();
  }
  if (context.state === 'suspended') context.resume().catch(() => {});
  return context;
}

// Browsers start audio suspended until the person interacts with the page: resume on the first gesture.
for (const type of ['pointerdown', 'keydown']) {
  window.addEventListener(type, () => context && context.state === 'suspended' && context.resume(), { passive: true });
}

/** Soft notes, one after another: [[frequency Hz, seconds], ...]. Returns the total duration in seconds. */
export function playNotes(notes, volume = 0.2) {
  const ctx = audioContext();
  if (!ctx) return 0;
  let at = ctx.currentTime + 0.02;
  for (const [frequency, seconds] of notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(volume, at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + seconds + 0.02);
    at += seconds;
  }
  return at - ctx.currentTime;
}

export const speakerTest = () => playNotes([[523.25, 0.35], [659.25, 0.35], [783.99, 0.6]]);
export const knockChime = () => playNotes([[880, 0.25], [660, 0.45]], 0.3);
