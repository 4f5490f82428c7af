// The parser's compiled modules import their JSON schema without an import
// attribute (they are built for bundlers); Node needs one.
export async function load(url, context, next) {
  if (url.endsWith(".json")) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: "json" } });
  }
  return next(url, context);
}
