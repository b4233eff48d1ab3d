// Checks a JSON value against a type the SDK's own .d.ts declares, with the
// TypeScript compiler's type checker (strict null checks on), the way `tsc
// --strict` would judge a literal of that value, plus the one thing tsc cannot
// see at run time: a property that is present but `null` where the type says
// `?: string` (absent or a string) is a problem, not a match.
//
//   const types = loadTypes(".../resources/realtime-kit/sessions.d.ts");
//   const found = types.check(value, "SessionGetSessionsResponse");
//   // found.problems: ["$.data.sessions[0].ended_at: null, declared string | undefined"]
//   // found.absent:   ["$.data.sessions[0].ended_at"]   (declared, optional, not sent)
//   // found.extra:    ["$.data.sessions[0].parent_session_id"] (sent, not declared)

import ts from "typescript";

const F = ts.TypeFlags;

export function loadTypes(dtsPath) {
  const program = ts.createProgram([dtsPath], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(dtsPath);
  if (!source) throw new Error(`cannot read ${dtsPath}`);
  const exported = new Map(
    checker.getExportsOfModule(checker.getSymbolAtLocation(source)).map((s) => [s.name, s]),
  );

  function declared(name) {
    const symbol = exported.get(name);
    if (!symbol) throw new Error(`${dtsPath} exports no ${name}`);
    return checker.getDeclaredTypeOfSymbol(symbol);
  }

  /** The properties of an exported interface (or of the type at a property path
   *  inside it), with whether each is optional. */
  function properties(name, ...path) {
    let type = declared(name);
    for (const key of path) {
      const property = checker.getPropertyOfType(type, key);
      if (!property) throw new Error(`${name} declares no ${path.join(".")}`);
      type = checker.getNonNullableType(checker.getTypeOfSymbol(property));
    }
    return checker.getPropertiesOfType(type).map((p) => ({
      name: p.name,
      optional: (p.flags & ts.SymbolFlags.Optional) !== 0,
      type: show(checker.getTypeOfSymbol(p)),
    }));
  }

  function show(type) {
    return checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);
  }

  function members(type) {
    return type.isUnion() ? type.types : [type];
  }

  function isArray(type) {
    return checker.isArrayType(type) || checker.isTupleType(type);
  }

  function check(value, name) {
    const found = { problems: [], absent: [], extra: [] };
    walk(value, declared(name), "$", found);
    return found;
  }

  function walk(value, type, path, found) {
    if (type.flags & (F.Any | F.Unknown)) return;
    const options = members(type);
    if (value === null) {
      if (!options.some((t) => t.flags & F.Null)) {
        found.problems.push(`${path}: null, declared ${show(type)}`);
      }
      return;
    }
    const kind = Array.isArray(value) ? "array" : typeof value;
    if (kind === "string" || kind === "number" || kind === "boolean") {
      if (!options.some((t) => acceptsScalar(t, value, kind))) {
        found.problems.push(`${path}: ${kind} ${JSON.stringify(value)}, declared ${show(type)}`);
      }
      return;
    }
    if (kind === "array") {
      const arrays = options.filter(isArray);
      if (arrays.length === 0) {
        found.problems.push(`${path}: an array, declared ${show(type)}`);
        return;
      }
      const items = arrays.flatMap((t) => checker.getTypeArguments(t));
      value.forEach((item, i) => walkAny(item, items, `${path}[${i}]`, found));
      return;
    }
    const objects = options.filter(
      (t) => t.flags & (F.Object | F.NonPrimitive) && !isArray(t),
    );
    if (objects.length === 0) {
      found.problems.push(`${path}: an object, declared ${show(type)}`);
      return;
    }
    walkAny(value, objects, path, found, walkObject);
  }

  // Several candidate types (a union of objects, the items of several array
  // types): the value matches if one of them takes it without problems; else
  // the closest one's problems are reported.
  function walkAny(value, candidates, path, found, each = walk) {
    let best = null;
    for (const candidate of candidates) {
      const trial = { problems: [], absent: [], extra: [] };
      each(value, candidate, path, trial);
      if (best === null || trial.problems.length < best.problems.length) best = trial;
      if (trial.problems.length === 0) break;
    }
    if (best === null) return;
    for (const key of Object.keys(found)) found[key].push(...best[key]);
  }

  function walkObject(value, type, path, found) {
    if (type.flags & F.NonPrimitive) return; // `object`: anything goes
    for (const property of checker.getPropertiesOfType(type)) {
      const optional = (property.flags & ts.SymbolFlags.Optional) !== 0;
      if (!(property.name in value)) {
        if (optional) found.absent.push(`${path}.${property.name}`);
        else found.problems.push(`${path}.${property.name}: required, not sent`);
      }
    }
    const index = checker.getIndexTypeOfType(type, ts.IndexKind.String);
    for (const [key, item] of Object.entries(value)) {
      const property = checker.getPropertyOfType(type, key);
      const where = `${path}.${key}`;
      if (property) walk(item, checker.getTypeOfSymbol(property), where, found);
      else if (index) walk(item, index, where, found);
      else found.extra.push(where);
    }
  }

  function acceptsScalar(type, value, kind) {
    if (type.flags & (F.Any | F.Unknown)) return true;
    if (kind === "string") {
      if (type.flags & F.String) return true;
      return (type.flags & F.StringLiteral) !== 0 && type.value === value;
    }
    if (kind === "number") {
      if (type.flags & F.Number) return true;
      return (type.flags & F.NumberLiteral) !== 0 && type.value === value;
    }
    if (type.flags & F.Boolean) return true;
    return (type.flags & F.BooleanLiteral) !== 0 && type.intrinsicName === String(value);
  }

  return { check, properties };
}
