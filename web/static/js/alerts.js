// Real-time alerts for supervisors and coordinators (GET /ws/alerts, protocol version 1).
//
// Included by base.html on every staff page of a supervisor or coordinator. Each alert is shown as a visible,
// accessible message (role="alert") with the case code and a link to the case; never a citizen's name (the
// server sends none). The socket is signaling.js's, with backoff and jitter, and never gives up while the page is
// open (a refused handshake backs off to the longest delay).

import { Signaling } from './signaling.js';

// The alerts socket only listens: no room to join.
const OPTIONS = { path: '/ws/alerts', maxAttempts: Infinity, maxDelay: 30000 };

function region() {
  let box = document.getElementById('staff-alerts');
  if (!box) {
    box = document.createElement('section');
    box.id = 'staff-alerts';
    box.className = 'staff-alerts';
    const main = document.getElementById('main');
    (main || document.body).prepend(box);
  }
  return box;
}

function show(alert, texts) {
  const item = document.createElement('div');
  item.className = 'card alert';
  item.setAttribute('role', 'alert');
  item.dataset.case = alert.case;
  const title = document.createElement('strong');
  title.textContent = `${texts.title} ${alert.case}`;
  const when = document.createElement('span');
  const at = new Date(alert.at);
  when.textContent = Number.isNaN(at.getTime()) ? '' : ` · ${at.toLocaleTimeString()}`;
  const link = document.createElement('a');
  link.href = `${texts.caseUrl}${encodeURIComponent(alert.case_id)}`;
  link.textContent = texts.open;
  link.className = 'alert-link';
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'link';
  dismiss.textContent = texts.dismiss;
  dismiss.addEventListener('click', () => item.remove());
  item.append(title, when, ' ', link, ' ', dismiss);
  region().prepend(item);
}

function start() {
  const tag = document.querySelector('script[data-alerts]');
  const data = tag ? tag.dataset : {};
  const texts = {
    title: data.title || 'High risk:',
    open: data.open || 'Open the case',
    dismiss: data.dismiss || 'Dismiss',
    caseUrl: data.caseUrl || '/cases/',
  };
  const alerts = new Signaling(null, OPTIONS);
  alerts.addEventListener('alert', (event) => show(event.detail, texts));
  alerts.connect();
  window.ascoltoAlerts = alerts;
}

start();
