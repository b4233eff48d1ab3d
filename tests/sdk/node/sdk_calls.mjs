// Calls every sessions method of the official TypeScript SDK (`cloudflare` on
// npm) against a running rtk-sessions server, the way a user points it at us:
//
//   new Cloudflare({ apiToken, baseURL: `${base_url}/client/v4`, maxRetries: 0 })
//
//   node sdk_calls.mjs <7|6> <base_url> <token> <account> <app> <ids.json>
//
// The twin of ../sdk_calls.py (same call names, same `facts`, same `ids.json`),
// so the Python tests judge all four SDK generations with one set of
// assertions. What only TypeScript can say is checked here: every answer is
// held against the generation's own .d.ts (./dts_check.mjs): a `null` where
// the type says `?: string`, a string where it says number, a value outside a
// declared enum, a required field not sent, each fails the run. Every
// parameter the generation declares for a method is sent at least once.
//
// Prints one JSON document on stdout:
//   {sdk_version, generation_features, calls: {name: {kwargs, response}},
//    facts, errors, failures, report_missing, extra}
// and exits 1 if anything failed, with the reasons on stderr.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import { loadTypes } from "./dts_check.mjs";

const require = createRequire(import.meta.url);

// The SDK reads CLOUDFLARE_* variables: only what this script passes may reach the server.
for (const name of Object.keys(process.env)) {
  if (name.startsWith("CLOUDFLARE_")) delete process.env[name];
}

const [major, baseUrl, token, account, app, idsPath] = process.argv.slice(2);
if (!idsPath || !["6", "7"].includes(major)) {
  console.error("usage: node sdk_calls.mjs <7|6> <base_url> <token> <account> <app> <ids.json>");
  process.exit(2);
}
const pkg = `cloudflare-${major}`;
const Cloudflare = require(pkg);
const sdkRoot = path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules", pkg);
const sdkVersion = JSON.parse(readFileSync(path.join(sdkRoot, "package.json"), "utf8")).version;
const types = loadTypes(path.join(sdkRoot, "resources/realtime-kit/sessions.d.ts"));
const ids = JSON.parse(readFileSync(idsPath, "utf8"));
const sdkBase = `${baseUrl.replace(/\/$/, "")}/client/v4`;

const SESSION_FIELDS = [
  "id", "associated_id", "created_at", "started_at", "updated_at", "ended_at", "status", "type",
  "minutes_consumed", "max_concurrent_participants", "live_participants",
  "meeting_display_name", "organization_id",
];
const PARTICIPANT_FIELDS = [
  "id", "user_id", "display_name", "custom_participant_id", "preset_name", "joined_at",
  "left_at", "duration", "created_at", "updated_at",
];

function client(auth) {
  return new Cloudflare({ baseURL: sdkBase, maxRetries: 0, timeout: 60_000, ...auth });
}

// --------------------------------------------------------------------------
// one API over both generations' method signatures (what differs is where
// the app and session ids go; the parameters are the generation's own)
// --------------------------------------------------------------------------

/** The methods as (ids..., params) => APIPromise, and the name of each one's
 *  response and params interfaces in the .d.ts. */
function methodsOf(sessions) {
  const scope7 = { account_id: account, app_id: app };
  const scope6 = { account_id: account };
  const seven = {
    getSessions: (p) => sessions.getSessions(app, { account_id: account, ...p }),
    getSessionDetails: (sid, p) => sessions.getSessionDetails(sid, { ...scope7, ...p }),
    getSessionParticipants: (sid, p) => sessions.getSessionParticipants(sid, { ...scope7, ...p }),
    getSessionParticipantDetails: (sid, pid, p) =>
      sessions.getSessionParticipantDetails(pid, { ...scope7, session_id: sid, ...p }),
    getParticipantDataFromPeerID: (peer, p) =>
      sessions.getParticipantDataFromPeerID(peer, { ...scope7, ...p }),
    getSessionChat: (sid, p) => sessions.getSessionChat(sid, { ...scope7, ...p }),
    getSessionTranscripts: (sid, p) => sessions.getSessionTranscripts(sid, { ...scope7, ...p }),
    getSessionSummary: (sid, p) => sessions.getSessionSummary(sid, { ...scope7, ...p }),
    generateSummaryOfTranscripts: (sid, p) =>
      sessions.generateSummaryOfTranscripts(sid, { ...scope7, ...p }),
  };
  const six = {
    getSessions: (p) => sessions.getSessions(app, { ...scope6, ...p }),
    getSessionDetails: (sid, p) => sessions.getSessionDetails(app, sid, { ...scope6, ...p }),
    getSessionParticipants: (sid, p) =>
      sessions.getSessionParticipants(app, sid, { ...scope6, ...p }),
    getSessionParticipantDetails: (sid, pid, p) =>
      sessions.getSessionParticipantDetails(app, sid, pid, { ...scope6, ...p }),
    getParticipantDataFromPeerID: (peer, p) =>
      sessions.getParticipantDataFromPeerId(app, peer, { ...scope6, ...p }),
    getSessionChat: (sid, p) => sessions.getSessionChat(app, sid, { ...scope6, ...p }),
    getSessionTranscripts: (sid, p) => sessions.getSessionTranscripts(app, sid, { ...scope6, ...p }),
    getSessionSummary: (sid, p) => sessions.getSessionSummary(app, sid, { ...scope6, ...p }),
    generateSummaryOfTranscripts: (sid, p) =>
      sessions.generateSummaryOfTranscripts(app, sid, { ...scope6, ...p }),
  };
  return major === "7" ? seven : six;
}

const INTERFACES = {
  getSessions: "SessionGetSessions",
  getSessionDetails: "SessionGetSessionDetails",
  getSessionParticipants: "SessionGetSessionParticipants",
  getSessionParticipantDetails: "SessionGetSessionParticipantDetails",
  getParticipantDataFromPeerID: "SessionGetParticipantDataFromPeerID",
  getSessionChat: "SessionGetSessionChat",
  getSessionTranscripts: "SessionGetSessionTranscripts",
  getSessionSummary: "SessionGetSessionSummary",
  generateSummaryOfTranscripts: "SessionGenerateSummaryOfTranscripts",
};

/** The optional parameters a generation declares for a method (the ids are given). */
function declaredParams(method) {
  const scope = new Set(["account_id", "app_id", "session_id"]);
  return types
    .properties(`${INTERFACES[method]}Params`)
    .map((p) => p.name)
    .filter((name) => !scope.has(name));
}

/** A response interface the generation declares, or null (6.x types summary generation as void). */
function responseInterface(method) {
  const name = `${INTERFACES[method]}Response`;
  try {
    types.properties(name);
    return name;
  } catch {
    return null;
  }
}

// --------------------------------------------------------------------------
// the run
// --------------------------------------------------------------------------

class Run {
  constructor() {
    this.calls = {};
    this.errors = {};
    this.failures = [];
    this.reportMissing = {};
    this.extra = {};
    this.sent = {}; // method -> Set of parameter names sent
  }

  fail(name, kind, message, details = {}) {
    this.failures.push({ call: name, kind, message, ...details });
    console.error(`--- ${name}: ${kind}: ${message}`);
  }

  /** Calls `api[method](...args, params)`, checks the answer against the .d.ts;
   *  returns the parsed body (what a user's code gets) or null. */
  async call(name, method, args, params = {}, use = api) {
    for (const key of Object.keys(params)) (this.sent[method] ??= new Set()).add(key);
    let body;
    try {
      body = await use[method](...args, params);
    } catch (error) {
      this.fail(name, error?.constructor?.name ?? "Error", String(error?.message ?? error), {
        status_code: error?.status ?? null,
      });
      return null;
    }
    const declared = responseInterface(method);
    if (declared !== null) {
      const found = types.check(body, declared);
      if (found.problems.length > 0) {
        this.fail(name, "type", `${found.problems.length} value(s) break ${declared}`, {
          problems: found.problems.slice(0, 400),
        });
      }
      if (method === "getParticipantDataFromPeerID") this.reportMissing[name] = found.absent;
      if (found.extra.length > 0) this.extra[name] = found.extra;
    }
    this.calls[name] = { kwargs: params, response: body ?? null };
    return body ?? null;
  }

  present(name, value, ...keys) {
    let obj = value;
    for (let i = 0; i < keys.length; i++) {
      obj = obj?.[keys[i]];
      if (obj === undefined || obj === null) {
        this.fail(name, "missing", `${keys.slice(0, i + 1).join(".")} is absent or null`);
        return false;
      }
    }
    return true;
  }

  async expectError(name, expected, promise) {
    try {
      await promise();
    } catch (error) {
      const kind = error?.constructor?.name;
      if (error instanceof Cloudflare[expected]) {
        this.errors[name] = { exception: kind, status_code: error.status, body: error.error ?? null };
      } else {
        this.fail(name, kind ?? "Error", `expected ${expected}, got ${error}`, {
          status_code: error?.status ?? null,
        });
      }
      return;
    }
    this.fail(name, "no-error", `expected ${expected}, the call succeeded`);
  }
}

const known = (value) => (value === undefined ? null : value);

function sessionFact(session) {
  const fact = Object.fromEntries(SESSION_FIELDS.map((f) => [f, known(session[f])]));
  fact.breakout_room_ids = (session.breakout_rooms ?? []).map((room) => room.id);
  fact.meta = known(session.meta);
  return fact;
}

function participantFact(participant) {
  const fact = Object.fromEntries(PARTICIPANT_FIELDS.map((f) => [f, known(participant[f])]));
  const events = participant.peer_events;
  fact.peer_events =
    events === undefined || events === null
      ? null
      : events.map((e) => ({
          event_name: known(e.event_name),
          peer_id: known(e.peer_id),
          session_id: known(e.session_id),
          preset_view_type: known(e.preset_view_type),
        }));
  return fact;
}

function reportFact(participant) {
  const quality = participant.peer_report?.quality;
  const metadata = participant.peer_report?.metadata;
  return {
    id: known(participant.id),
    user_id: known(participant.user_id),
    role: known(participant.role),
    duration: known(participant.duration),
    rows: Object.fromEntries(
      ["audio_producer", "audio_consumer", "video_producer", "video_consumer"].map((kind) => [
        kind,
        (quality?.[kind] ?? []).length,
      ]),
    ),
    audio_consumer_mos_avg: known(quality?.audio_consumer_cumulative?.quality_mos?.avg),
    browser: known(metadata?.browser_metadata?.browser),
    sdk_name: known(metadata?.sdk_name),
    producing_pairs: (metadata?.candidate_pairs?.producing_transport ?? []).length,
    peer_events: (participant.peer_events ?? []).length,
  };
}

/** A download link fetched as a browser does: no token. */
async function fetchDownload(url) {
  const response = await fetch(url);
  return {
    status: response.status,
    content_type: response.headers.get("content-type"),
    text: await response.text(),
  };
}

const run = new Run();
const bearer = client({ apiToken: token });
const api = methodsOf(bearer.realtimeKit.sessions);
const facts = { sessions: {}, session: {}, participants: {}, participant: {}, paging: {} };
/** The participant fields the generation types on participant details (as ../sdk_calls.py). */
const DETAIL_FIELDS = types
  .properties("SessionGetSessionParticipantDetailsResponse", "data", "participant")
  .map((p) => p.name)
  .sort();
// 6.x types the session of GET /sessions/{id} at data.session, 7.x its fields in data.
const NESTED_DETAILS = types
  .properties("SessionGetSessionDetailsResponse", "data")
  .some((p) => p.name === "session");
const features = {
  participant_details_filters: declaredParams("getSessionParticipantDetails").includes("filters"),
  peer_report_include_peer_events: declaredParams("getParticipantDataFromPeerID").includes(
    "include_peer_events",
  ),
};

async function listSessions(name, params = {}, use = api) {
  const body = await run.call(name, "getSessions", [], params, use);
  if (body && run.present(name, body, "data", "sessions")) {
    facts.sessions[name] = body.data.sessions.map(sessionFact);
    facts.paging[name] = known(body.paging);
  }
}

async function sessionDetails(name, sessionId, params = {}, use = api) {
  const body = await run.call(name, "getSessionDetails", [sessionId], params, use);
  if (body && run.present(name, body, "data")) {
    const view = NESTED_DETAILS ? body.data.session : body.data;
    if (!view) {
      run.fail(name, "missing", "data.session is absent: this SDK reads no session");
      return;
    }
    facts.session[name] = { shape: NESTED_DETAILS ? "nested" : "flat", ...sessionFact(view) };
  }
}

async function participants(name, sessionId, params = {}, use = api) {
  const body = await run.call(name, "getSessionParticipants", [sessionId], params, use);
  if (body && run.present(name, body, "data", "participants")) {
    facts.participants[name] = body.data.participants.map(participantFact);
    facts.paging[name] = known(body.data.paging);
  }
}

async function participant(name, sessionId, peerId, params = {}, use = api) {
  const body = await run.call(
    name, "getSessionParticipantDetails", [sessionId, peerId], params, use,
  );
  if (body && run.present(name, body, "data", "participant")) {
    const p = body.data.participant;
    facts.participant[name] = {
      ...participantFact(p),
      peer_stats: known(p.peer_stats),
      quality_stats: known(p.quality_stats),
      typed_fields: DETAIL_FIELDS,
    };
  }
}

facts.peer_report = {};
async function peerReport(name, peerId, params = {}) {
  const body = await run.call(name, "getParticipantDataFromPeerID", [peerId], params);
  if (body && run.present(name, body, "data", "participant")) {
    facts.peer_report[name] = reportFact(body.data.participant);
  }
}

// ---- GET /sessions ----------------------------------------------------------
try {
  const plain = await api.getSessions({});
  facts.plain_get_sessions_ids = (plain.data?.sessions ?? []).map((s) => s.id);
} catch (error) {
  run.fail("plain_get_sessions", error?.constructor?.name ?? "Error", String(error));
}
await listSessions("sessions_default");
await listSessions("sessions_zero_paging", { page_no: 0, per_page: 0 });
await listSessions("sessions_created_desc", {
  sort_by: "createdAt", sort_order: "DESC", page_no: 1, per_page: 100,
});
await listSessions("sessions_created_asc", { sort_by: "createdAt", sort_order: "ASC", per_page: 100 });
await listSessions("sessions_minutes_desc", {
  sort_by: "minutesConsumed", sort_order: "DESC", per_page: 100,
});
await listSessions("sessions_minutes_asc", {
  sort_by: "minutesConsumed", sort_order: "ASC", per_page: 100,
});
for (let page = 1; page < 8; page++) {
  await listSessions(`sessions_page_${page}`, { page_no: page, per_page: 10 });
  if (!facts.sessions[`sessions_page_${page}`]?.length) break;
}
await listSessions("sessions_live", { status: "LIVE" });
await listSessions("sessions_ended", { status: "ENDED", per_page: 100 });
await listSessions("sessions_search", { search: ids.search, per_page: 100 });
await listSessions("sessions_associated", { associated_id: ids.associated_id, per_page: 100 });
await listSessions("sessions_time_range", {
  start_time: ids.start_time, end_time: ids.end_time, per_page: 100,
});
await listSessions("sessions_participants_1_5", {
  participants: ids.participants_range ?? "1:5", per_page: 100,
});
await listSessions("sessions_participants_exact", {
  participants: ids.participants_exact ?? "5", per_page: 100,
});
await listSessions("sessions_combined", {
  status: "ENDED",
  participants: ids.combined_participants,
  search: ids.combined_search,
  sort_by: "minutesConsumed",
  sort_order: "ASC",
  start_time: ids.combined_start_time,
  end_time: ids.combined_end_time,
  page_no: 1,
  per_page: 50,
});

// ---- GET /sessions/{id} -----------------------------------------------------
await sessionDetails("details_ended", ids.ended_session);
await sessionDetails("details_parent", ids.parent_session);
await sessionDetails("details_parent_rooms", ids.parent_session, { include_breakout_rooms: true });
await sessionDetails("details_parent_no_rooms", ids.parent_session, { include_breakout_rooms: false });
await sessionDetails("details_breakout_room", ids.breakout_room);
await sessionDetails("details_live", ids.live_session, { include_breakout_rooms: true });

// ---- GET /sessions/{id}/participants ----------------------------------------
await participants("participants_ended_default", ids.ended_session);
await participants("participants_ended", ids.ended_session, {
  sort_by: "joinedAt", sort_order: "ASC", page_no: 1, per_page: 100,
});
await participants("participants_ended_page_2", ids.ended_session, { page_no: 2, per_page: 5 });
await participants("participants_ended_duration_desc", ids.ended_session, {
  sort_by: "duration", sort_order: "DESC", per_page: 100,
});
await participants("participants_ended_search", ids.ended_session, { search: ids.search_user_id });
await participants("participants_ended_events", ids.ended_session, {
  include_peer_events: true, view: "raw", per_page: 100,
});
await participants("participants_parent_raw", ids.parent_session, { view: "raw", per_page: 100 });
await participants("participants_parent_consolidated", ids.parent_session, {
  view: "consolidated", per_page: 100,
});
await participants("participants_parent_consolidated_duration", ids.parent_session, {
  view: "consolidated", sort_by: "duration", sort_order: "DESC", per_page: 3, page_no: 1,
});
await participants("participants_parent_consolidated_events", ids.parent_session, {
  view: "consolidated", include_peer_events: true, per_page: 100,
});
for (const [i, room] of (ids.breakout_rooms ?? [ids.breakout_room]).entries()) {
  await participants(`participants_breakout_room_${i}_raw`, room, { view: "raw", per_page: 100 });
}
await participants("participants_live", ids.live_session, { include_peer_events: true });
await participants("participants_live_search", ids.live_session, {
  search: ids.live_search ?? "STELLA",
});

// ---- GET /sessions/{id}/participants/{peer} ---------------------------------
await participant("participant_ended", ids.ended_session, ids.ended_peer);
await participant("participant_ended_events", ids.ended_session, ids.ended_peer, {
  include_peer_events: true,
});
await participant("participant_live", ids.live_session, ids.live_peer);
await participant("participant_live_events", ids.live_session, ids.live_peer, {
  include_peer_events: true,
});
await participant("participant_left", ids.live_session, ids.left_peer);
if (features.participant_details_filters) {
  await participant("participant_live_device_info", ids.live_session, ids.live_peer, {
    filters: "device_info",
  });
  await participant("participant_live_quality_stats", ids.live_session, ids.live_peer, {
    filters: "quality_stats",
  });
  await participant("participant_live_events_filter", ids.live_session, ids.live_peer, {
    filters: "events", include_peer_events: true,
  });
}

// ---- GET /sessions/peer-report/{peer} ---------------------------------------
await peerReport("report_live", ids.live_peer);
await peerReport("report_live_quality", ids.live_peer, { filters: "quality_stats" });
await peerReport("report_live_device_info", ids.live_peer, { filters: "device_info" });
await peerReport("report_live_ip_information", ids.live_peer, { filters: "ip_information" });
await peerReport("report_live_precall", ids.live_peer, { filters: "precall_network_information" });
await peerReport("report_live_events_filter", ids.live_peer, { filters: "events" });
if (features.peer_report_include_peer_events) {
  await peerReport("report_live_events", ids.live_peer, { include_peer_events: true });
}
await peerReport("report_left", ids.left_peer);
await peerReport("report_ended", ids.ended_peer);
for (const [i, peerId] of (ids.report_peers ?? []).entries()) {
  await peerReport(`report_peer_${i}`, peerId);
}

// ---- downloads: chat, transcript, summary -----------------------------------
if (ids.download_session) {
  const sid = ids.download_session;
  const found = (facts.downloads = {});
  const chat = await run.call("chat", "getSessionChat", [sid]);
  if (chat && run.present("chat", chat, "data", "chat_download_url")) {
    found.chat = await fetchDownload(chat.data.chat_download_url);
  }
  const hasFormat = declaredParams("getSessionTranscripts").includes("format");
  for (const format of hasFormat ? ["CSV", "JSON", "SRT", "VTT"] : ["CSV"]) {
    const name = `transcript_${format}`;
    const body = await run.call(name, "getSessionTranscripts", [sid], hasFormat ? { format } : {});
    if (body && run.present(name, body, "data", "transcript_download_url")) {
      found[name] = await fetchDownload(body.data.transcript_download_url);
    }
  }
  if (responseInterface("generateSummaryOfTranscripts") === null) {
    try {
      await api.generateSummaryOfTranscripts(sid, {}); // typed as void: nothing to read
    } catch (error) {
      run.fail("summary_generate", error?.constructor?.name ?? "Error", String(error));
    }
  } else {
    await run.call("summary_generate", "generateSummaryOfTranscripts", [sid]);
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      await api.getSessionSummary(sid, {});
      break;
    } catch (error) {
      if (!(error instanceof Cloudflare.NotFoundError)) break; // reported by the call below
      await new Promise((resolve) => setTimeout(resolve, 200)); // being generated
    }
  }
  const summary = await run.call("summary", "getSessionSummary", [sid]);
  if (summary && run.present("summary", summary, "data", "summaryDownloadUrl")) {
    found.summary = await fetchDownload(summary.data.summaryDownloadUrl);
  }
  await run.expectError("not_found_chat", "NotFoundError", () =>
    api.getSessionChat(ids.no_chat_session, {}),
  );
}

// ---- the X-Auth-Key + X-Auth-Email auth style -------------------------------
{
  const keyed = methodsOf(
    client({ apiKey: ids.key_token ?? token, apiEmail: ids.email }).realtimeKit.sessions,
  );
  await listSessions("key_sessions", { status: "LIVE" }, keyed);
  await sessionDetails("key_details_live", ids.live_session, {}, keyed);
  await participants("key_participants_live", ids.live_session, {}, keyed);
  await participant("key_participant_live", ids.live_session, ids.live_peer, {}, keyed);
}

// ---- errors, as the SDK raises them -----------------------------------------
{
  const missing = "no-such-session-0000";
  await run.expectError("not_found_session", "NotFoundError", () =>
    api.getSessionDetails(missing, {}),
  );
  await run.expectError("not_found_participants", "NotFoundError", () =>
    api.getSessionParticipants(missing, {}),
  );
  await run.expectError("not_found_participant", "NotFoundError", () =>
    api.getSessionParticipantDetails(ids.ended_session, "no-such-peer-0000", {}),
  );
  await run.expectError("not_found_peer_report", "NotFoundError", () =>
    api.getParticipantDataFromPeerID("no-such-peer-0000", {}),
  );
  const bad = methodsOf(client({ apiToken: "rtk_not_a_real_token" }).realtimeKit.sessions);
  await run.expectError("unauthenticated_sessions", "AuthenticationError", () =>
    bad.getSessions({}),
  );
  await run.expectError("unauthenticated_details", "AuthenticationError", () =>
    bad.getSessionDetails(ids.ended_session, {}),
  );
  const badKey = methodsOf(
    client({ apiKey: "rtk_not_a_real_token", apiEmail: ids.email }).realtimeKit.sessions,
  );
  await run.expectError("unauthenticated_key", "AuthenticationError", () =>
    badKey.getSessionParticipants(ids.ended_session, {}),
  );
  const otherEmail = methodsOf(
    client({ apiKey: ids.key_token ?? token, apiEmail: "someone-else@example.com" }).realtimeKit
      .sessions,
  );
  await run.expectError("unauthenticated_wrong_email", "AuthenticationError", () =>
    otherEmail.getSessions({}),
  );
  await run.expectError("forbidden_other_account", "PermissionDeniedError", () =>
    bearer.realtimeKit.sessions.getSessions(app, { account_id: ids.other_account }),
  );
  await run.expectError("bad_participants_range", "BadRequestError", () =>
    api.getSessions({ participants: "five" }),
  );
  await run.expectError("bad_per_page", "BadRequestError", () =>
    api.getSessionParticipants(ids.ended_session, { per_page: 1000 }),
  );
}

// ---- every parameter the generation declares was sent -----------------------
for (const method of Object.keys(INTERFACES)) {
  const unsent = declaredParams(method).filter((p) => !run.sent[method]?.has(p));
  if (unsent.length > 0) {
    run.fail(method, "unsent-parameter", `declared but never sent: ${unsent.join(", ")}`);
  }
}

const out = {
  sdk_version: sdkVersion,
  generation_features: features,
  calls: run.calls,
  facts,
  errors: run.errors,
  failures: run.failures,
  report_missing: run.reportMissing,
  extra: run.extra,
};
// Exit once the whole document is written (a pipe takes it asynchronously); keep-alive
// sockets of the SDK's HTTP agent would otherwise hold the process a while.
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`, () =>
  process.exit(run.failures.length > 0 ? 1 : 0),
);
