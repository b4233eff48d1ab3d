import itertools
from tests.factories import *
from tests.api.support import AppUnderTest

EVENTS = [meeting("m1", "M"), started("p", "m1", T0), joined("p", "a", T0 + MIN),
          *visit("r", "b", T0 + 5 * MIN, T0 + 8 * MIN, meeting_id="m1"),
          started("r", "m1", T0 + 5 * MIN, parent="p"),
          *visit("p", "c", T0 + 2*MIN, T0 + 3*MIN), ended("p", T0 + 20*MIN, "HOST_ENDED_MEETING"),
          started("p2", "m1", T0 + 30*MIN), joined("p2", "d", T0 + 31*MIN),
          left("x", "ghost", T0)]

def state(app):
    app.clock.now_ms = T0 + 40*MIN
    out = []
    body = app.ok("/sessions", per_page=100)
    out.append(body)
    out.append(app.ok("/sessions", per_page=100, associated_id="m1")["paging"])
    for s in ["p", "r", "p2"]:
        out.append(app.ok(f"/sessions/{s}", include_breakout_rooms="true"))
        out.append(app.ok(f"/sessions/{s}/participants", view="consolidated"))
        out.append(app.ok(f"/sessions/{s}/participants"))
    return out

def test_probe(server, server_http):
    ref = AppUnderTest(server, "ref-probe", server_http)
    ref.ingest(EVENTS)
    expected = state(ref)
    import random
    rnd = random.Random(1)
    bad = 0
    for k in range(60):
        ev = EVENTS[:]; rnd.shuffle(ev)
        cuts = sorted(rnd.sample(range(1, len(ev)), rnd.randint(0, 5)))
        app = AppUnderTest(server, f"probe-{k}", server_http)
        for a, b in zip([0, *cuts], [*cuts, len(ev)]):
            app.ingest(ev[a:b])
        got = state(app)
        got[0] = got[0]; 
        def norm(x): 
            import json; return json.loads(json.dumps(x).replace(f"probe-{k}", "ref-probe"))
        if norm(got) != expected:
            bad += 1
            if bad < 3:
                for i, (g, e) in enumerate(zip(norm(got), expected)):
                    if g != e: print(k, i, [x["id"] for x in ev], cuts, "\nGOT", str(g)[:600], "\nEXP", str(e)[:600])
    print("bad", bad)
