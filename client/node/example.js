// A random-search study from Node.js, read straight from proto/ (no generated code):
//   node client/node/example.js [HOST:PORT] [STUDY]
// Creates the study, runs 5 trials of a toy objective, prints the best as JSON.
"use strict";

const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTO = path.join(__dirname, "..", "..", "proto", "hyperdial", "v1", "hyperdial.proto");
const definition = protoLoader.loadSync(PROTO, {
  keepCase: true, // field names as in the .proto (worker_id, not workerId)
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { HyperdialService } = grpc.loadPackageDefinition(definition).hyperdial.v1;

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10000);
    client[method](request, { deadline }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}

async function main() {
  const address = process.argv[2] || "127.0.0.1:50051";
  const name = process.argv[3] || "node-example";
  const client = new HyperdialService(address, grpc.credentials.createInsecure());
  await call(client, "CreateStudy", {
    name,
    config: {
      parameters: [
        { name: "x", float_range: { low: -5, high: 5 } },
        { name: "layers", int_range: { low: 1, high: 4 } },
        { name: "optimizer", categorical: { choices: ["adam", "sgd"] } },
      ],
      objective: { metric: "loss", goal: "MINIMIZE" },
      algorithm: { name: "random" },
      max_trials: 5,
      seed: 7,
    },
  });
  for (;;) {
    const { trials } = await call(client, "Suggest", { study: name, worker_id: "node-1", count: 1 });
    if (trials.length === 0) break;
    const trial = trials[0];
    const params = Object.fromEntries(
      Object.entries(trial.parameters).map(([key, value]) => [key, value[value.kind]]));
    const loss = (params.x - 1) ** 2 + params.layers + (params.optimizer === "sgd" ? 0.5 : 0);
    await call(client, "Observe", {
      study: name, trial_id: trial.id, worker_id: "node-1",
      request_id: `node-1-${trial.id}`, value: loss,
    });
  }
  const { trials: [best] } = await call(client, "GetBestTrials", { study: name, count: 1 });
  const params = Object.fromEntries(
    Object.entries(best.parameters).map(([key, value]) => [key, value[value.kind]]));
  console.log(JSON.stringify({ study: name, trial: best.id, value: best.value, params }));
  client.close();
}

main().catch((error) => {
  console.error(`hyperdial node example: ${error.details || error.message}`);
  process.exit(1);
});
