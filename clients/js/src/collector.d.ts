/** A `peer.stats` sample as docs/ingest.md describes it (cumulative counters). */
export interface StatsSample {
  ts: string;
  kind: "audio" | "video" | "screenshare_audio" | "screenshare_video";
  direction: "producer" | "consumer";
  ssrc?: number;
  mid?: string;
  track_id?: string;
  packets_sent?: number;
  packets_received?: number;
  bytes_sent?: number;
  bytes_received?: number;
  packets_lost?: number;
  jitter?: number;
  round_trip_time?: number;
  concealment_events?: number;
  total_samples_received?: number;
  frames_encoded?: number;
  frames_decoded?: number;
  frames_dropped?: number;
  key_frames_encoded?: number;
  key_frames_decoded?: number;
  frame_width?: number;
  frame_height?: number;
  frames_per_second?: number;
  jitter_buffer_delay?: number;
  jitter_buffer_emitted_count?: number;
  pli_count?: number;
  fir_count?: number;
  quality_limitation_reason?: "cpu" | "bandwidth" | "none" | "other";
  quality_limitation_durations?: { cpu?: number; bandwidth?: number; none?: number; other?: number };
  quality_limitation_resolution_changes?: number;
  candidate_pair?: Record<string, string | number | boolean>;
}

export interface CollectorOptions {
  /** The connection to sample. */
  pc: RTCPeerConnection;
  /** https://host/ingest/accounts/{account}/apps/{app}/events */
  url: string;
  /** An rtk-sessions token with only the `ingest` scope (it cannot read anything). */
  token: string;
  peerId: string;
  sessionId?: string;
  /** Sampling period, ms (default 7000, as RealtimeKit and the server expect). */
  intervalMs?: number;
  /** Events per POST (default 50). */
  maxBatch?: number;
  /** Events kept while the server is unreachable (default 1000; oldest stats dropped first). */
  maxQueue?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Also send `peer.joined` at start and `peer.left` at stop or page hide. */
  lifecycle?: { userId?: string; displayName?: string; meetingId?: string };
  /** More `peer.metadata` fields (e.g. `ip`, `room_view_type`). */
  metadata?: Record<string, unknown>;
  /** Which local or remote tracks are screen share (default: none). */
  isScreenshare?: (trackIdentifier: string) => boolean;
  /** Where errors go (default console.debug); the collector never throws. */
  onError?: (error: unknown) => void;
  /** fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Prefix of event ids (default random). */
  instanceId?: string;
}

export interface CollectorCost {
  samples: number;
  totalMs: number;
  maxMs: number;
  lastMs: number;
  averageMs: number;
}

export interface Collector {
  sample(): Promise<void> | undefined;
  flush(): Promise<void> | undefined;
  event(name: string, metadata?: Record<string, unknown>): void;
  cost(): CollectorCost;
  stop(): Promise<void> | undefined;
}

export const VERSION: string;
export function startCollector(options: CollectorOptions): Collector;
export function mapStats(
  report: Iterable<Record<string, unknown>> | Map<string, Record<string, unknown>>,
  options?: { isScreenshare?: (trackIdentifier: string) => boolean; timeOrigin?: number },
): StatsSample[];
export function browserMetadata(nav?: Navigator): Record<string, unknown>;
