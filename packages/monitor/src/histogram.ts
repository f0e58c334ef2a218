import type { Histogram } from 'hdr-histogram-js';
import * as hdr from 'hdr-histogram-js';

let wasmState: 'unknown' | 'ready' | 'unavailable' = 'unknown';

function wasmReady(): boolean {
  if (wasmState === 'unknown') {
    try {
      hdr.initWebAssemblySync();
      wasmState = 'ready';
    } catch {
      // Without WebAssembly the pure-JS histogram works, ~5x slower per value (see BENCHMARKS.md).
      wasmState = 'unavailable';
    }
  }
  return wasmState === 'ready';
}

/** Which HDR histogram implementation this process uses: WebAssembly (~16 ns/value here) or pure JS (~78 ns). */
export function histogramImplementation(): 'wasm' | 'js' {
  return wasmReady() ? 'wasm' : 'js';
}

/**
 * A new HDR histogram with 3 significant digits that resizes itself to any value: durations in
 * nanoseconds from a shm send to a minute-long transfer fit one histogram at 0.1% resolution.
 * WebAssembly histograms live outside the JS heap: call `destroy()` when done (the monitor's `close()` does).
 */
export function createHistogram(): Histogram {
  return hdr.build({ numberOfSignificantValueDigits: 3, autoResize: true, useWebAssembly: wasmReady() });
}
