// The group supervision room page (docs/supervision.md): device check, then the group call.
import { DeviceCheck } from './devicecheck.js';

const check = new DeviceCheck(document.getElementById('device-check'));
const enter = document.querySelector('[data-action="enter"]');
check.addEventListener('done', () => {
  enter.disabled = false;
});
check.start();
