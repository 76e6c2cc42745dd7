// Validate Argo CD objects (AppProject, Application) against the types Argo CD v3 generates
// its API from, as packaged by @kubernetes-models/argo-cd: field types, enums and required
// fields. (It does not reject unknown fields.) Usage: node argocd-validate.mjs FILE...
import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import { AppProject, Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1";
const kinds = { AppProject, Application };
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of loadAll(readFileSync(file, "utf8"))) {
    if (!doc) continue;
    const Kind = kinds[doc.kind];
    try {
      if (!Kind || doc.apiVersion !== "argoproj.io/v1alpha1") throw new Error(`not an Argo CD AppProject or Application: ${doc.apiVersion} ${doc.kind}`);
      new Kind(doc).validate();
      console.log(`PASS ${file} ${doc.kind}/${doc.metadata.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${file}: ${e.message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
