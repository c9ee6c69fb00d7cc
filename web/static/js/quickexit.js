// Quick exit: leave at once for a neutral site, without leaving this page in the history.
// Loaded as its own module so it works even if the rest of the page failed to load.
const button = document.querySelector('[data-action="quick-exit"]');
const target = button ? button.dataset.url : '';
let lastEscape = 0;

function leave() {
  try {
    if (window.ascolto && window.ascolto.hangup) window.ascolto.hangup();
  } finally {
    location.replace(target || 'about:blank');
  }
}

if (button) {
  button.addEventListener('click', leave);
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const now = Date.now();
    if (now - lastEscape < 1500) leave();
    lastEscape = now;
  });
}
