// Parse GitHub Actions workflow files with GitHub's own parser
// (@actions/workflow-parser, as the Actions language service uses it) and
// convert them to its workflow template; print one JSON line per file with
// the errors, the jobs and each job's steps; exit 1 if any file has errors.
//
//   node --import ./register.mjs check.mjs FILE...
import { readFileSync } from "node:fs";
import { NoOperationTraceWriter, convertWorkflowTemplate, parseWorkflow } from "@actions/workflow-parser";

let failed = false;
for (const file of process.argv.slice(2)) {
  const parsed = parseWorkflow({ name: file, content: readFileSync(file, "utf8") }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  let jobs = [];
  if (errors.length === 0 && parsed.value) {
    const template = await convertWorkflowTemplate(parsed.context, parsed.value);
    for (const e of template.errors ?? []) errors.push(e.Message ?? e.message ?? String(e));
    jobs = (template.jobs ?? []).map((job) => ({
      id: job.id?.value ?? String(job.id),
      steps: (job.steps ?? []).map((s) => ({
        name: s.name?.value ?? s.name?.toString() ?? null,
        uses: s.uses?.value ?? null,
        run: s.run?.value ?? s.run?.toString() ?? null,
      })),
    }));
  }
  if (errors.length) failed = true;
  console.log(JSON.stringify({ file, errors, jobs }));
}
process.exit(failed ? 1 : 0);
