import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus metrics. One registry per process; components
 * import the instruments they feed. Gauges that reflect Redis state (incidents
 * by state, queue depth, notifications pending) are filled at scrape time by
 * the HTTP server's collectors.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'vmlock_process_' });

export const soapCalls = new Counter({
  name: 'vmlock_soap_calls_total',
  help: 'SOAP calls to vCenter by method and fault (fault="" when it succeeded)',
  labelNames: ['vcenter', 'method', 'fault'] as const,
  registers: [registry],
});

export const detectionLatency = new Histogram({
  name: 'vmlock_detection_latency_seconds',
  help: 'Time from the lock (event or first seen state) to the incident job in Redis',
  labelNames: ['vcenter'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const incidentsOpened = new Counter({
  name: 'vmlock_incidents_opened_total',
  help: 'Incidents opened by the poller',
  labelNames: ['vcenter', 'signal'] as const,
  registers: [registry],
});

export const incidentsClosed = new Counter({
  name: 'vmlock_incidents_closed_total',
  help: 'Incidents ended, by outcome and first cause',
  labelNames: ['vcenter', 'outcome', 'cause'] as const,
  registers: [registry],
});

export const timeToResolve = new Histogram({
  name: 'vmlock_time_to_resolve_seconds',
  help: 'Time from incident opened to its outcome',
  labelNames: ['outcome'] as const,
  buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
  registers: [registry],
});

export const vcenterUp = new Gauge({
  name: 'vmlock_vcenter_up',
  help: '1 when the last call to the vCenter succeeded',
  labelNames: ['vcenter'] as const,
  registers: [registry],
});

export const vcenterLastUpdate = new Gauge({
  name: 'vmlock_vcenter_last_update_timestamp_seconds',
  help: 'Unix time of the last successful update from the vCenter',
  labelNames: ['vcenter'] as const,
  registers: [registry],
});
