export { createHistogram, histogramImplementation } from './histogram.js';
export type { LinkCondition } from './link-condition.js';
export type { MonitorOptions, Outcome } from './monitor.js';
export { strategyLabel, TransmissionRecorder, TransportMonitor } from './monitor.js';
export type {
  ConfigChange,
  HysteresisOptions,
  OptimizerCompression,
  OptimizerContext,
  OptimizerOptions,
  OptimizerThresholds,
  TransportConfig,
} from './optimizer.js';
export {
  AdaptiveOptimizer,
  DEFAULT_OPTIMIZER_THRESHOLDS,
  DEFAULT_TRANSPORT_CONFIG,
  tierWithHysteresis,
} from './optimizer.js';
export type { PrometheusOptions } from './prometheus.js';
export { PrometheusExporter } from './prometheus.js';
export type { LatencySummary, PeerReport, PerformanceReport, StreamReport } from './report.js';
export { renderJson, renderTable } from './report.js';
export type { WindowTotals } from './window.js';
export { SampleRing, SlidingWindow } from './window.js';
