/** The wall clock and the timer limit the failover loops use: one implementation, in adapters/local. */
export { MAX_TIMER_MS, clampTimerMs, systemClock } from '../../adapters/local/system-clock.js';
