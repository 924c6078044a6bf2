// run.js - the reference point of bench/engine.sh: graphile-worker (the
// version pinned in package.json) running JOBS jobs with CONCURRENCY
// workers on the same PostgreSQL as importq. The jobs are queued first (one
// INSERT through graphile_worker.add_job), then a runner starts and the
// time from its first job start to its last job success is measured, as
// bench/engine.sh measures importq (first started_at to last finished_at).
// Two kinds of job:
//   noop        does nothing (the queue's own cost);
//   copy FILE   the same work as importq's one-row import job: job i COPYs
//               FILE (CSV with a header line) into table t(i mod 8), which
//               must exist, by a client-side COPY FROM STDIN (pg-copy-streams,
//               pinned) on the worker's own connection. As graphile-worker
//               runs tasks, the rows commit on their own and the job's
//               completion in its own transaction after them (importq commits
//               both together).
// Usage: node run.js DATABASE_URL [JOBS] [CONCURRENCY] [noop | copy FILE]
// Prints one logfmt line: task, jobs, concurrency, seconds, jobs_per_s.
"use strict";
const fs = require("node:fs");
const { pipeline } = require("node:stream/promises");
const { from: copyFrom } = require("pg-copy-streams");
const { Logger, run, makeWorkerUtils } = require("graphile-worker");

const TABLES = 8;

const taskList = {
  noop: async () => {},
  // copy: payload {table, file}; the file's rows into the table.
  copy: async (payload, helpers) =>
    helpers.withPgClient(async (client) => {
      const copy = client.query(
        copyFrom(`COPY "${payload.table}" FROM STDIN WITH (FORMAT csv, HEADER true)`),
      );
      await pipeline(fs.createReadStream(payload.file), copy);
    }),
};

// Quiet: graphile-worker logs every job start otherwise.
const logger = new Logger(() => () => {});

async function main() {
  const [connectionString, jobsText = "5000", concurrencyText = "8", task = "noop", file] =
    process.argv.slice(2);
  const jobs = Number.parseInt(jobsText, 10);
  const concurrency = Number.parseInt(concurrencyText, 10);
  if (!connectionString || !(jobs > 0) || !(concurrency > 0) || !(task in taskList) ||
      (task === "copy") !== Boolean(file)) {
    console.error("usage: node run.js DATABASE_URL [JOBS] [CONCURRENCY] [noop | copy FILE]");
    process.exit(2);
  }
  const utils = await makeWorkerUtils({ connectionString, logger });
  try {
    await utils.migrate();
    await utils.withPgClient((client) =>
      client.query(
        "SELECT graphile_worker.add_job($2, json_build_object('i', i, 'table', 't' || (i % $3::integer)," +
          " 'file', $4::text)) FROM generate_series(1, $1::integer) AS i",
        [jobs, task, TABLES, file ? fs.realpathSync(file) : null],
      ),
    );
  } finally {
    await utils.release();
  }

  let firstStart = 0;
  let done = 0;
  let finish;
  const allDone = new Promise((resolve) => (finish = resolve));
  const runner = await run({
    connectionString,
    concurrency,
    maxPoolSize: concurrency + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    logger,
    taskList,
  });
  runner.events.on("job:start", () => {
    if (!firstStart) firstStart = performance.now();
  });
  runner.events.on("job:success", () => {
    done += 1;
    if (done === jobs) finish(performance.now());
  });
  const timeout = setTimeout(() => {
    console.error(`graphile: only ${done} of ${jobs} jobs done after 600 s`);
    process.exit(1);
  }, 600000);
  const lastSuccess = await allDone;
  clearTimeout(timeout);
  await runner.stop();
  const seconds = (lastSuccess - firstStart) / 1000;
  console.log(
    `task=${task} jobs=${jobs} concurrency=${concurrency} seconds=${seconds.toFixed(3)} jobs_per_s=${(jobs / seconds).toFixed(0)}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
