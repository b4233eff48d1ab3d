// rtk-sessions collector: samples an RTCPeerConnection's getStats() and sends it, with
// the peer's device and page events, to an rtk-sessions ingest endpoint
// (POST /ingest/accounts/{account}/apps/{app}/events, docs/ingest.md).
//
// No dependencies. Nothing here throws into the host page: every failure goes to
// `onError` and the call goes on. The server does the math (quality.md): this only
// reports the browser's cumulative counters as they are.

export const VERSION = "0.1.0";
const SDK_NAME = "rtk-sessions-collector";

const DEFAULTS = {
  intervalMs: 7000, // RealtimeKit samples every 7 s; the server's RTK_STATS_PERIOD_SECONDS
  maxBatch: 50, // events per POST
  maxQueue: 1000, // events kept while the server cannot be reached (oldest stats go first)
  retryBaseMs: 1000,
  retryMaxMs: 60000,
};

/**
 * Map one getStats() report to `peer.stats` samples (one per RTP stream).
 * @param {Iterable<object>|Map<string, object>} report what RTCPeerConnection.getStats() resolves to
 * @param {{isScreenshare?: (trackIdentifier: string) => boolean, timeOrigin?: number}} [options]
 * @returns {object[]} samples as docs/ingest.md describes them
 */
export function mapStats(report, options = {}) {
  const byId = new Map();
  for (const stat of report.values ? report.values() : report) byId.set(stat.id, stat);
  const all = [...byId.values()];
  const isScreenshare = options.isScreenshare || (() => false);
  const remoteOf = new Map(
    all.filter((s) => s.type === "remote-inbound-rtp").map((s) => [s.localId, s]),
  );
  const pair = selectedPair(all, byId);
  const samples = [];
  const pairAttached = { producer: false, consumer: false };
  for (const stat of all) {
    if (stat.type !== "outbound-rtp" && stat.type !== "inbound-rtp") continue;
    if (stat.kind !== "audio" && stat.kind !== "video") continue;
    const producer = stat.type === "outbound-rtp";
    const source = producer ? byId.get(stat.mediaSourceId) : undefined;
    const trackId = producer ? source?.trackIdentifier : stat.trackIdentifier;
    const kind = trackId && isScreenshare(trackId) ? `screenshare_${stat.kind}` : stat.kind;
    const sample = {
      ts: isoTime(stat.timestamp, options.timeOrigin),
      kind,
      direction: producer ? "producer" : "consumer",
      ssrc: stat.ssrc,
      mid: stat.mid,
      track_id: trackId,
      ...(producer ? outbound(stat, remoteOf.get(stat.id)) : inbound(stat)),
    };
    const direction = sample.direction;
    if (pair && !pairAttached[direction]) {
      sample.candidate_pair = pair; // once per direction and snapshot: the server keeps the latest
      pairAttached[direction] = true;
    }
    samples.push(withoutUndefined(sample));
  }
  return samples;
}

function outbound(stat, remote) {
  const fields = {
    packets_sent: stat.packetsSent,
    bytes_sent: stat.bytesSent,
    // loss, jitter and RTT of what we send are what the receiver reports back
    packets_lost: remote?.packetsLost,
    jitter: remote?.jitter,
    round_trip_time: remote?.roundTripTime,
    pli_count: stat.pliCount,
    fir_count: stat.firCount,
  };
  if (stat.kind === "video") {
    Object.assign(fields, {
      frames_encoded: stat.framesEncoded,
      key_frames_encoded: stat.keyFramesEncoded,
      frame_width: stat.frameWidth,
      frame_height: stat.frameHeight,
      frames_per_second: stat.framesPerSecond,
      quality_limitation_reason: stat.qualityLimitationReason,
      quality_limitation_durations: stat.qualityLimitationDurations && {
        cpu: stat.qualityLimitationDurations.cpu,
        bandwidth: stat.qualityLimitationDurations.bandwidth,
        none: stat.qualityLimitationDurations.none,
        other: stat.qualityLimitationDurations.other,
      },
      quality_limitation_resolution_changes: stat.qualityLimitationResolutionChanges,
    });
  }
  return fields;
}

function inbound(stat) {
  const fields = {
    packets_received: stat.packetsReceived,
    bytes_received: stat.bytesReceived,
    packets_lost: stat.packetsLost,
    jitter: stat.jitter,
    jitter_buffer_delay: stat.jitterBufferDelay,
    jitter_buffer_emitted_count: stat.jitterBufferEmittedCount,
    pli_count: stat.pliCount,
    fir_count: stat.firCount,
  };
  if (stat.kind === "audio") {
    Object.assign(fields, {
      concealment_events: stat.concealmentEvents,
      total_samples_received: stat.totalSamplesReceived,
    });
  } else {
    Object.assign(fields, {
      frames_decoded: stat.framesDecoded,
      key_frames_decoded: stat.keyFramesDecoded,
      frames_dropped: stat.framesDropped,
      frame_width: stat.frameWidth,
      frame_height: stat.frameHeight,
      frames_per_second: stat.framesPerSecond,
    });
  }
  return fields;
}

function selectedPair(all, byId) {
  const transport = all.find((s) => s.type === "transport" && s.selectedCandidatePairId);
  const pair = transport
    ? byId.get(transport.selectedCandidatePairId)
    : all.find((s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded");
  if (!pair) return undefined;
  const local = byId.get(pair.localCandidateId) || {};
  const remote = byId.get(pair.remoteCandidateId) || {};
  return withoutUndefined({
    id: pair.id,
    nominated: pair.nominated,
    local_candidate_id: pair.localCandidateId,
    local_candidate_address: local.address,
    local_candidate_port: local.port,
    local_candidate_protocol: local.protocol,
    local_candidate_type: local.candidateType,
    local_candidate_network_type: local.networkType,
    local_candidate_related_address: local.relatedAddress,
    local_candidate_related_port: local.relatedPort,
    local_candidate_url: local.url,
    remote_candidate_id: pair.remoteCandidateId,
    remote_candidate_address: remote.address,
    remote_candidate_port: remote.port,
    remote_candidate_protocol: remote.protocol,
    remote_candidate_type: remote.candidateType,
    available_outgoing_bitrate: pair.availableOutgoingBitrate,
    available_incoming_bitrate: pair.availableIncomingBitrate,
    current_round_trip_time: pair.currentRoundTripTime,
    total_round_trip_time: pair.totalRoundTripTime,
    bytes_sent: pair.bytesSent,
    bytes_received: pair.bytesReceived,
    packets_sent: pair.packetsSent,
    packets_received: pair.packetsReceived,
  });
}

function isoTime(timestamp, timeOrigin) {
  // getStats() timestamps are epoch ms in browsers; a relative one (an old engine, a test
  // double) is taken from the page's time origin
  let ms = typeof timestamp === "number" ? timestamp : Date.now();
  if (ms < 1e12) ms += timeOrigin ?? globalThis.performance?.timeOrigin ?? 0;
  return new Date(Math.round(ms)).toISOString();
}

function withoutUndefined(object) {
  for (const key of Object.keys(object)) {
    if (object[key] === undefined || object[key] === null) delete object[key];
    else if (typeof object[key] === "object" && !Array.isArray(object[key])) {
      withoutUndefined(object[key]);
      if (Object.keys(object[key]).length === 0) delete object[key];
    }
  }
  return object;
}

/** The `peer.metadata` this browser can tell about itself. */
export function browserMetadata(nav = globalThis.navigator) {
  const connection = nav?.connection;
  return withoutUndefined({
    user_agent: nav?.userAgent,
    device_info: {
      cpus: nav?.hardwareConcurrency,
      memory: nav?.deviceMemory,
      is_mobile: nav?.userAgentData?.mobile,
      os: nav?.userAgentData?.platform,
    },
    sdk_name: SDK_NAME,
    sdk_version: VERSION,
    // the connection type as the browser sees it (RealtimeKit reports it here too)
    precall_network_information: connection && { effective_networktype: connection.effectiveType },
    connection: connection && {
      type: connection.type,
      effective_type: connection.effectiveType,
      downlink_mbps: connection.downlink,
      rtt_ms: connection.rtt,
    },
  });
}

/**
 * Start collecting. Returns a handle; nothing it does throws.
 * @param {import("./collector.d.ts").CollectorOptions} options
 * @returns {import("./collector.d.ts").Collector}
 */
export function startCollector(options) {
  const settings = { ...DEFAULTS, ...options };
  const { pc, url, token, peerId, sessionId } = settings;
  const onError = settings.onError || ((error) => globalThis.console?.debug?.("rtk-sessions collector:", error));
  const fetchImpl = settings.fetch || globalThis.fetch?.bind(globalThis);
  const instance = settings.instanceId || randomId();
  const queue = [];
  const cost = { samples: 0, totalMs: 0, maxMs: 0, lastMs: 0 };
  let sequence = 0;
  let timer;
  let retryTimer;
  let failures = 0;
  let sending = false;
  let stopped = false;
  const cleanups = [];

  const safely = (fn) => (...args) => {
    try {
      const result = fn(...args);
      // an async failure is reported, never handed back as a rejected promise
      return result && typeof result.catch === "function" ? result.catch(onError) : result;
    } catch (error) {
      onError(error);
      return undefined;
    }
  };

  function event(type, fields) {
    sequence += 1;
    return { id: `${peerId}:${instance}:${sequence}`, type, ts: new Date().toISOString(), peer_id: peerId, ...fields };
  }

  function enqueue(item) {
    queue.push(item);
    while (queue.length > settings.maxQueue) {
      const oldestStats = queue.findIndex((e) => e.type === "peer.stats");
      queue.splice(oldestStats >= 0 ? oldestStats : 0, 1);
    }
    if (queue.length >= settings.maxBatch) flush();
  }

  const sample = safely(async () => {
    if (stopped) return;
    const started = now();
    const report = await pc.getStats();
    const samples = mapStats(report, settings);
    const took = now() - started;
    Object.assign(cost, {
      samples: cost.samples + 1,
      totalMs: cost.totalMs + took,
      maxMs: Math.max(cost.maxMs, took),
      lastMs: took,
    });
    if (samples.length) enqueue(event("peer.stats", { session_id: sessionId, samples }));
  });

  const flush = safely(async () => {
    if (sending || queue.length === 0 || !fetchImpl) return;
    sending = true;
    const batch = queue.splice(0, settings.maxBatch);
    try {
      const response = await fetchImpl(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(batch),
      });
      if (response.ok || (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status))) {
        if (!response.ok) onError(new Error(`ingest refused a batch: HTTP ${response.status}`));
        failures = 0;
      } else {
        throw new Error(`ingest answered HTTP ${response.status}`);
      }
    } catch (error) {
      queue.unshift(...batch); // re-sent later; the server drops what it already has
      failures += 1;
      onError(error);
      if (!stopped) {
        const delay = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** (failures - 1));
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => flush(), delay * (0.5 + Math.random() / 2));
      }
      return;
    } finally {
      sending = false;
    }
    if (queue.length) flush();
  });

  const beacon = safely(() => {
    // the page is going away: what is left goes in one request the browser finishes
    // (no headers on a beacon: the token rides in the query, never logged by the server)
    if (queue.length === 0) return;
    const nav = globalThis.navigator;
    const body = JSON.stringify(queue.splice(0, queue.length));
    const target = `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
    const sent = nav?.sendBeacon?.(target, new Blob([body], { type: "text/plain" }));
    if (!sent && fetchImpl) {
      fetchImpl(target, { method: "POST", body, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(onError);
    }
  });

  function listen(target, name, handler) {
    if (!target?.addEventListener) return;
    const safe = safely(handler);
    target.addEventListener(name, safe);
    cleanups.push(() => target.removeEventListener(name, safe));
  }

  function peerEvent(name, metadata = {}) {
    enqueue(event("peer.event", { session_id: sessionId, name, metadata }));
  }

  const start = safely(() => {
    const lifecycle = settings.lifecycle;
    if (lifecycle) {
      enqueue(event("peer.joined", {
        session_id: sessionId,
        user_id: lifecycle.userId,
        display_name: lifecycle.displayName,
        meeting_id: lifecycle.meetingId,
      }));
    }
    enqueue(event("peer.metadata", { session_id: sessionId, ...browserMetadata(), ...(settings.metadata || {}) }));
    const mediaDevices = globalThis.navigator?.mediaDevices;
    let known = [];
    if (mediaDevices?.enumerateDevices) {
      mediaDevices.enumerateDevices().then((devices) => { known = devices.map(deviceOf); }, onError);
    }
    listen(mediaDevices, "devicechange", async () => {
      const current = (await mediaDevices.enumerateDevices()).map(deviceOf);
      for (const [name, kind] of DEVICE_EVENTS) {
        const ids = (list) => new Set(list.filter((d) => d.kind === kind).map((d) => d.device_id));
        const [before, after] = [ids(known), ids(current)];
        const added = current.filter((d) => d.kind === kind && !before.has(d.device_id));
        const removed = known.filter((d) => d.kind === kind && !after.has(d.device_id));
        if (added.length || removed.length) peerEvent(name, { added, removed });
      }
      known = current;
    });
    listen(globalThis.document, "visibilitychange", () => {
      const hidden = globalThis.document.visibilityState === "hidden";
      peerEvent(hidden ? "tab_hidden" : "tab_visible");
      if (hidden) beacon();
    });
    listen(globalThis.navigator?.connection, "change", () => {
      const c = globalThis.navigator.connection;
      peerEvent("network_changed", { type: c.type, effective_type: c.effectiveType });
    });
    let lastState = pc.connectionState;
    listen(pc, "connectionstatechange", () => {
      const state = pc.connectionState;
      if (state === "disconnected") peerEvent("reconnecting", { from: lastState });
      else if (state === "connected" && ["disconnected", "failed"].includes(lastState)) peerEvent("reconnected", { from: lastState });
      else if (state === "failed") peerEvent("connection_failed", { from: lastState });
      lastState = state;
    });
    listen(globalThis, "pagehide", () => {
      if (settings.lifecycle) enqueue(event("peer.left", { session_id: sessionId }));
      beacon();
    });
    sample();
    timer = setInterval(() => { sample(); flush(); }, settings.intervalMs);
  });

  start();
  return {
    /** Take a sample now (also done every intervalMs). */
    sample: safely(() => sample()),
    /** Send what is queued now. */
    flush: safely(() => flush()),
    /** Record a page event of your own as `peer.event`. */
    event: safely((name, metadata) => peerEvent(name, metadata)),
    /** The sampling cost so far: getStats() plus mapping, in ms. */
    cost: () => ({ ...cost, averageMs: cost.samples ? cost.totalMs / cost.samples : 0 }),
    /** Stop: a last sample, `peer.left` (with `lifecycle`), and everything sent. */
    stop: safely(async () => {
      if (stopped) return;
      await sample();
      stopped = true;
      clearInterval(timer);
      clearTimeout(retryTimer);
      for (const cleanup of cleanups) cleanup();
      if (settings.lifecycle) enqueue(event("peer.left", { session_id: sessionId }));
      while (queue.length && !sending) {
        const before = queue.length;
        await flush();
        if (queue.length >= before) break; // the server is away: keep them for a beacon
      }
    }),
  };
}

// docs/ingest.md's device events: the set of available devices of a kind changed
const DEVICE_EVENTS = [
  ["audio_devices_updated", "audioinput"],
  ["video_devices_updated", "videoinput"],
  ["speaker_devices_updated", "audiooutput"],
];

function deviceOf(info) {
  return { device_id: info.deviceId, kind: info.kind, label: info.label };
}

function now() {
  return globalThis.performance?.now?.() ?? Date.now();
}

function randomId() {
  return globalThis.crypto?.randomUUID?.().slice(0, 8) ?? Math.random().toString(36).slice(2, 10);
}
