// Unit tests of the collector on getStats() output recorded from Chromium 156 (a
// loopback call with fake devices: tests/collector/call.html, two snapshots 3 s apart).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { browserMetadata, mapStats, startCollector } from "../src/collector.js";

const [first, second] = JSON.parse(
  readFileSync(new URL("./fixtures/chromium-156-loopback.json", import.meta.url)),
);
const byType = (snapshot, type, kind) => snapshot.filter((s) => s.type === type && (!kind || s.kind === kind));

test("one sample per RTP stream, each kind and direction", () => {
  const samples = mapStats(second);
  const shapes = samples.map((s) => `${s.kind}/${s.direction}`).sort();
  assert.deepEqual(shapes, ["audio/consumer", "audio/producer", "video/consumer", "video/producer"]);
});

test("a sent video stream: its own counters, and loss, jitter and RTT from the receiver's report", () => {
  const [raw] = byType(second, "outbound-rtp", "video");
  const remote = second.find((s) => s.type === "remote-inbound-rtp" && s.localId === raw.id);
  const source = second.find((s) => s.id === raw.mediaSourceId);
  const sample = mapStats(second).find((s) => s.kind === "video" && s.direction === "producer");
  assert.equal(sample.ts, new Date(Math.round(raw.timestamp)).toISOString());
  assert.equal(sample.ssrc, raw.ssrc);
  assert.equal(sample.mid, raw.mid);
  assert.equal(sample.track_id, source.trackIdentifier);
  assert.equal(sample.packets_sent, raw.packetsSent);
  assert.equal(sample.bytes_sent, raw.bytesSent);
  assert.equal(sample.frames_encoded, raw.framesEncoded);
  assert.equal(sample.key_frames_encoded, raw.keyFramesEncoded);
  assert.equal(sample.frame_width, raw.frameWidth);
  assert.equal(sample.frame_height, raw.frameHeight);
  assert.equal(sample.frames_per_second, raw.framesPerSecond);
  assert.equal(sample.pli_count, raw.pliCount);
  assert.equal(sample.fir_count, raw.firCount);
  assert.equal(sample.quality_limitation_reason, raw.qualityLimitationReason);
  assert.deepEqual(sample.quality_limitation_durations, raw.qualityLimitationDurations);
  assert.equal(sample.quality_limitation_resolution_changes, raw.qualityLimitationResolutionChanges);
  assert.equal(sample.packets_lost, remote.packetsLost);
  assert.equal(sample.jitter, remote.jitter);
  assert.equal(sample.round_trip_time, remote.roundTripTime);
});

test("a received audio stream: counters, concealment and the jitter buffer", () => {
  const [raw] = byType(second, "inbound-rtp", "audio");
  const sample = mapStats(second).find((s) => s.kind === "audio" && s.direction === "consumer");
  assert.equal(sample.track_id, raw.trackIdentifier);
  assert.equal(sample.packets_received, raw.packetsReceived);
  assert.equal(sample.bytes_received, raw.bytesReceived);
  assert.equal(sample.packets_lost, raw.packetsLost);
  assert.equal(sample.jitter, raw.jitter);
  assert.equal(sample.concealment_events, raw.concealmentEvents);
  assert.equal(sample.total_samples_received, raw.totalSamplesReceived);
  assert.equal(sample.jitter_buffer_delay, raw.jitterBufferDelay);
  assert.equal(sample.jitter_buffer_emitted_count, raw.jitterBufferEmittedCount);
  assert.equal(sample.frames_decoded, undefined); // audio has none
});

test("a received video stream: decoded, key and dropped frames", () => {
  const [raw] = byType(second, "inbound-rtp", "video");
  const sample = mapStats(second).find((s) => s.kind === "video" && s.direction === "consumer");
  assert.equal(sample.frames_decoded, raw.framesDecoded);
  assert.equal(sample.key_frames_decoded, raw.keyFramesDecoded);
  assert.equal(sample.frames_dropped, raw.framesDropped);
  assert.equal(sample.frame_width, raw.frameWidth);
});

test("the selected candidate pair, once per direction, with both candidates", () => {
  const samples = mapStats(second);
  const withPair = samples.filter((s) => s.candidate_pair);
  assert.deepEqual(withPair.map((s) => s.direction).sort(), ["consumer", "producer"]);
  const transport = second.find((s) => s.type === "transport");
  const pair = second.find((s) => s.id === transport.selectedCandidatePairId);
  const local = second.find((s) => s.id === pair.localCandidateId);
  const got = withPair[0].candidate_pair;
  assert.equal(got.id, pair.id);
  assert.equal(got.local_candidate_address, local.address);
  assert.equal(got.local_candidate_port, local.port);
  assert.equal(got.local_candidate_type, local.candidateType);
  assert.equal(got.current_round_trip_time, pair.currentRoundTripTime);
  assert.equal(got.bytes_sent, pair.bytesSent);
});

test("counters move forward between the two recorded snapshots", () => {
  const key = (s) => `${s.kind}/${s.direction}`;
  const before = new Map(mapStats(first).map((s) => [key(s), s]));
  for (const after of mapStats(second)) {
    const earlier = before.get(key(after));
    const counter = after.direction === "producer" ? "bytes_sent" : "bytes_received";
    assert.ok(after[counter] > earlier[counter], `${key(after)} ${counter}`);
    assert.ok(Date.parse(after.ts) > Date.parse(earlier.ts));
  }
});

test("screen share is told by track, and relative timestamps take the time origin", () => {
  const video = byType(second, "media-source", "video")[0].trackIdentifier;
  const kinds = mapStats(second, { isScreenshare: (id) => id === video }).map((s) => s.kind);
  assert.ok(kinds.includes("screenshare_video"));
  const relative = second.map((s) => ({ ...s, timestamp: 1500 }));
  const [sample] = mapStats(relative, { timeOrigin: Date.UTC(2026, 0, 1) });
  assert.equal(sample.ts, "2026-01-01T00:00:01.500Z");
});

test("metadata tells what the browser knows of itself", () => {
  const nav = {
    userAgent: "UA", hardwareConcurrency: 8, deviceMemory: 4,
    userAgentData: { mobile: false, platform: "Linux" },
    connection: { type: "wifi", effectiveType: "4g", downlink: 10, rtt: 50 },
  };
  const metadata = browserMetadata(nav);
  assert.equal(metadata.user_agent, "UA");
  assert.deepEqual(metadata.device_info, { cpus: 8, memory: 4, is_mobile: false, os: "Linux" });
  assert.deepEqual(metadata.precall_network_information, { effective_networktype: "4g" });
  assert.equal(metadata.connection.type, "wifi");
  assert.equal(metadata.sdk_name, "rtk-sessions-collector");
});

// --- the collector's sending ---------------------------------------------------------

function fakePc(snapshots) {
  let n = 0;
  return {
    connectionState: "connected",
    addEventListener() {}, removeEventListener() {},
    async getStats() {
      const snapshot = snapshots[Math.min(n, snapshots.length - 1)];
      n += 1;
      if (snapshot instanceof Error) throw snapshot;
      return new Map(snapshot.map((s) => [s.id, s]));
    },
  };
}

function fakeServer(statuses) {
  const posts = [];
  const fetch = async (url, init) => {
    posts.push({ url, init, events: JSON.parse(init.body) });
    const status = statuses.length ? statuses.shift() : 200;
    if (status === "network") throw new TypeError("Failed to fetch");
    return { ok: status >= 200 && status < 300, status };
  };
  return { posts, fetch };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("sends joined, metadata and stats with the token, then left; ids stay unique", async () => {
  const server = fakeServer([]);
  const collector = startCollector({
    pc: fakePc([first, second]), url: "http://ingest/events", token: "rtk_t", peerId: "p1",
    sessionId: "s1", intervalMs: 60_000, fetch: server.fetch, lifecycle: { userId: "u1" },
  });
  await sleep(20);
  await collector.stop();
  const events = server.posts.flatMap((p) => p.events);
  assert.deepEqual(events.map((e) => e.type), ["peer.joined", "peer.metadata", "peer.stats", "peer.stats", "peer.left"]);
  assert.ok(server.posts.every((p) => p.init.headers.Authorization === "Bearer rtk_t"));
  assert.equal(new Set(events.map((e) => e.id)).size, events.length);
  assert.ok(events.every((e) => e.peer_id === "p1" && e.session_id === "s1"));
  assert.equal(events[0].user_id, "u1");
  assert.equal(events[2].samples.length, 4);
  assert.ok(collector.cost().samples === 2 && collector.cost().averageMs >= 0);
});

test("retries with back-off while the server fails, and sends each event once it answers", async () => {
  const server = fakeServer([503, "network", 429]);
  const errors = [];
  const collector = startCollector({
    pc: fakePc([second]), url: "u", token: "t", peerId: "p", intervalMs: 60_000,
    retryBaseMs: 5, fetch: server.fetch, onError: (e) => errors.push(e),
  });
  await sleep(20);
  await collector.flush();
  for (let i = 0; i < 50 && server.posts.length < 4; i += 1) await sleep(10);
  await collector.stop();
  assert.equal(errors.length, 3);
  const delivered = server.posts.slice(3).flatMap((p) => p.events).map((e) => e.id);
  const tried = server.posts[0].events.map((e) => e.id);
  assert.deepEqual(delivered.slice(0, tried.length), tried); // the same events, in order
});

test("a refused batch (400) is dropped, reported, and not sent again", async () => {
  const server = fakeServer([400]);
  const errors = [];
  const collector = startCollector({
    pc: fakePc([second]), url: "u", token: "t", peerId: "p", intervalMs: 60_000,
    fetch: server.fetch, onError: (e) => errors.push(String(e)),
  });
  await sleep(20);
  await collector.stop();
  assert.match(errors[0], /HTTP 400/);
  const ids = server.posts.flatMap((p) => p.events.map((e) => e.id));
  assert.equal(new Set(ids).size, ids.length);
});

test("never throws into the page: getStats failing, fetch missing", async () => {
  const errors = [];
  const collector = startCollector({
    pc: fakePc([new Error("closed")]), url: "u", token: "t", peerId: "p", intervalMs: 60_000,
    fetch: undefined, onError: (e) => errors.push(String(e)),
  });
  await sleep(20);
  await collector.sample();
  await collector.stop();
  assert.ok(errors.some((e) => e.includes("closed")));
  const broken = startCollector({ pc: null, url: "u", token: "t", peerId: "p", onError: () => {} });
  assert.equal(typeof broken.stop, "function");
  await broken.stop();
});

test("on page hide what is queued goes in one beacon with the token in the query", async () => {
  const beacons = [];
  const listeners = {};
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", {
    configurable: true,
    value: { userAgent: "UA", sendBeacon: (url, blob) => { beacons.push({ url, blob }); return true; } },
  });
  const addEventListener = globalThis.addEventListener;
  globalThis.addEventListener = (name, fn) => { listeners[name] = fn; };
  globalThis.removeEventListener = () => {};
  try {
    const server = fakeServer(["network", "network", "network"]);
    const collector = startCollector({
      pc: fakePc([second]), url: "https://rtk/ingest", token: "rtk_x y", peerId: "p", intervalMs: 60_000,
      retryBaseMs: 60_000, fetch: server.fetch, lifecycle: {}, onError: () => {},
    });
    await sleep(20);
    await collector.flush();
    listeners.pagehide();
    assert.equal(beacons.length, 1);
    assert.equal(beacons[0].url, "https://rtk/ingest?token=rtk_x%20y");
    assert.equal(beacons[0].blob.type, "text/plain");
    const events = JSON.parse(await beacons[0].blob.text());
    assert.deepEqual(events.map((e) => e.type).slice(-1), ["peer.left"]);
    assert.ok(events.some((e) => e.type === "peer.stats"));
    await collector.stop();
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
    globalThis.addEventListener = addEventListener;
  }
});

test("a plugged-in microphone is an audio_devices_updated event with the device added", async () => {
  const listeners = {};
  let devices = [{ deviceId: "mic-1", kind: "audioinput", label: "Built-in" }];
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", {
    configurable: true,
    value: {
      userAgent: "UA",
      mediaDevices: {
        enumerateDevices: async () => devices,
        addEventListener: (name, fn) => { listeners[name] = fn; },
        removeEventListener() {},
      },
    },
  });
  try {
    const server = fakeServer([]);
    const collector = startCollector({
      pc: fakePc([second]), url: "u", token: "t", peerId: "p", intervalMs: 60_000, fetch: server.fetch,
    });
    await sleep(10);
    devices = [...devices, { deviceId: "usb-2", kind: "audioinput", label: "USB headset" }];
    await listeners.devicechange();
    await collector.stop();
    const updates = server.posts.flatMap((p) => p.events).filter((e) => e.type === "peer.event");
    assert.deepEqual(updates.map((e) => [e.name, e.metadata]), [[
      "audio_devices_updated",
      { added: [{ device_id: "usb-2", kind: "audioinput", label: "USB headset" }], removed: [] },
    ]]);
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});

test("a dropped connection and the tab being hidden are peer events", async () => {
  const pcListeners = {};
  const docListeners = {};
  const pc = { ...fakePc([second]), addEventListener: (name, fn) => { pcListeners[name] = fn; } };
  const saved = Object.getOwnPropertyDescriptor(globalThis, "document");
  const doc = { visibilityState: "visible", addEventListener: (name, fn) => { docListeners[name] = fn; }, removeEventListener() {} };
  Object.defineProperty(globalThis, "document", { configurable: true, value: doc });
  try {
    const server = fakeServer([]);
    const collector = startCollector({ pc, url: "u", token: "t", peerId: "p", intervalMs: 60_000, fetch: server.fetch });
    await sleep(10);
    for (const state of ["disconnected", "connected", "failed"]) {
      pc.connectionState = state;
      pcListeners.connectionstatechange();
    }
    doc.visibilityState = "hidden";
    docListeners.visibilitychange();
    doc.visibilityState = "visible";
    docListeners.visibilitychange();
    await collector.stop();
    const names = server.posts.flatMap((p) => p.events).filter((e) => e.type === "peer.event").map((e) => e.name);
    assert.deepEqual(names, ["reconnecting", "reconnected", "connection_failed", "tab_hidden", "tab_visible"]);
  } finally {
    if (saved) Object.defineProperty(globalThis, "document", saved);
    else delete globalThis.document;
  }
});
