// Builds a MiniSearch index of the supplier documents (bench/search_bench.py writes
// them as JSON lines) and serialises it: the alternative the benchmark compares with
// Pagefind. Usage: node bench/minisearch_index.mjs DOCS.jsonl OUT.json
import { readFileSync, writeFileSync } from "node:fs";
import MiniSearch from "minisearch";

const [docsPath, outPath] = process.argv.slice(2);
const docs = readFileSync(docsPath, "utf8").trim().split("\n").map((line) => JSON.parse(line));
const index = new MiniSearch({
  fields: ["content"],
  storeFields: ["title", "id", "country", "standards", "status", "valid_until", "filters"],
  idField: "url",
  processTerm: (term) => term.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase(),
});
index.addAll(docs);
writeFileSync(outPath, JSON.stringify(index));
