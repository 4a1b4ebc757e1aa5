// A Node.js "training script" for `hyperdial agent`: no package, no client code.
// It reads its parameters from the JSON file in HYPERDIAL_PARAMS_FILE, prints a
// progress line per step and a final JSON metric line.
//
//   hyperdial agent --study quadratic -- node examples/quadratic.js
"use strict";
const fs = require("fs");

const params = JSON.parse(fs.readFileSync(process.env.HYPERDIAL_PARAMS_FILE, "utf8"));
const loss = (params.x - 1) ** 2 + (params.layers - 2) ** 2;
for (let step = 0; step < 3; step++) {
  console.log(`hyperdial: step=${step} loss=${loss + 1 / (step + 1)}`);
}
console.log(JSON.stringify({ hyperdial: { final: true, loss } }));
