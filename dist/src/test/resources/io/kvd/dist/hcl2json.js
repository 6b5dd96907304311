// Parses Terraform files with @cdktf/hcl2json (HashiCorp's HCL parser compiled to WebAssembly) and
// prints one JSON object on stdout: {"FILE": PARSED, ...}, PARSED as the package returns it
// (blocks as arrays of objects, expressions as "${...}" strings).
//
//   node hcl2json.js PACKAGE_DIR FILE...
//
// PACKAGE_DIR is the installed package (node_modules/@cdktf/hcl2json). Exits 1 with the parser's
// message when a file does not parse, 2 on a usage error.
"use strict";
const fs = require("fs");
const path = require("path");

async function main(argv) {
  if (argv.length < 2) {
    process.stderr.write("usage: node hcl2json.js PACKAGE_DIR FILE...\n");
    return 2;
  }
  const hcl = require(path.resolve(argv[0]));
  const out = {};
  for (const file of argv.slice(1)) {
    try {
      out[file] = await hcl.parse(path.basename(file), fs.readFileSync(file, "utf8"));
    } catch (e) {
      process.stderr.write(`${file}: ${e && e.message ? e.message : e}\n`);
      return 1;
    }
  }
  process.stdout.write(JSON.stringify(out));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`hcl2json.js: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
