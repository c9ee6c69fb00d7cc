// Connection quality from getStats(): round-trip time and packet loss -> good / fair / poor.
import { say, t } from './i18n.js';

export function grade(rttSeconds, lossRatio) {
  if (rttSeconds < 0.3 && lossRatio < 0.02) return 'good';
  if (rttSeconds < 0.6 && lossRatio < 0.08) return 'fair';
  return 'poor';
}

/** Update `el` every 2 s from the current peer connection (getPc()); returns a stop function. */
export function watchQuality(getPc, el) {
  let previous = { lost: 0, received: 0 };
  let shown = '';
  const timer = setInterval(async () => {
    const pc = getPc();
    if (!pc || pc.connectionState !== 'connected') {
      el.hidden = true;
      shown = '';
      return;
    }
    const report = await pc.getStats();
    let rtt = null;
    let lost = 0;
    let received = 0;
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.currentRoundTripTime != null) {
        rtt = s.currentRoundTripTime;
      }
      if (s.type === 'inbound-rtp') {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
      }
    });
    const dLost = Math.max(0, lost - previous.lost);
    const dReceived = Math.max(0, received - previous.received);
    previous = { lost, received };
    const loss = dLost + dReceived > 0 ? dLost / (dLost + dReceived) : 0;
    const level = grade(rtt ?? 0, loss);
    el.hidden = false;
    if (level !== shown) {
      shown = level;
      el.dataset.level = level;
      say(el.querySelector('.value') || el, t(`call.quality.${level}`));
    }
    el.title = rtt === null ? '' : t('call.quality.detail', { rtt: Math.round(rtt * 1000), loss: (loss * 100).toFixed(1) });
  }, 2000);
  return () => clearInterval(timer);
}
