export { describeChoice, selectTransport } from './select.js';
export type {
  LinkCondition,
  Route,
  Selection,
  SelectionInput,
  SelectionPolicy,
  TransportChoice,
} from './selection.js';
export { DEFAULT_THRESHOLDS } from './thresholds.js';
export type { WireDecision } from './wire.js';
export { chooseWire, commonWires, DEFAULT_TYPESCRIPT_WIRE, formatBytes, formatRate } from './wire.js';
