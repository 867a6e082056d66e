// tests/warc/check.mjs - reads WARC files back with warcio (warcio.js) and
// checks what sluice promises of them (docs/man/sluiced.conf.5, [warc]):
//   - every record parses, twice: as raw blocks and with HTTP parsed;
//   - every file starts with a warcinfo record;
//   - recomputed SHA-1 block and payload digests (sha1:BASE32) match;
//   - a request's WARC-Concurrent-To names a record that exists;
//   - a revisit (identical-payload-digest) refers to a response with the
//     same payload digest, target URI and date;
//   - a WARC-Refers-To (sluicectl export --format warc's conversion
//     records) names a record that exists;
//   - with --docs FILE (sluicectl export): every stored document has
//     exactly one 2xx response or identical-payload revisit for its final
//     URL.
// Usage: node check.mjs [--docs docs.jsonl] [--json] FILE.warc.gz|DIR...
// Exits 1 with one line per problem; prints a JSON summary on success.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const modDir = process.env.WARCIO_DIR;
const { WARCParser } = require(modDir ? path.join(modDir, "warcio")
    : "warcio");

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function base32(buf) {
	let bits = 0, acc = 0, out = "";
	for (const b of buf) {
		acc = (acc << 8) | b;
		bits += 8;
		while (bits >= 5) {
			out += B32[(acc >>> (bits - 5)) & 31];
			bits -= 5;
		}
		acc &= 0xff;
	}
	if (bits > 0)
		out += B32[(acc << (5 - bits)) & 31];
	return out;
}
const sha1 = (b) => "sha1:" + base32(createHash("sha1").update(b).digest());

const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

function splitHttp(block) {
	const i = Buffer.from(block).indexOf("\r\n\r\n");
	if (i < 0)
		return null;
	return { head: Buffer.from(block.subarray(0, i)).toString("latin1"),
	    payload: block.subarray(i + 4) };
}

function httpHeader(head, name) {
	const lines = head.split("\r\n").slice(1);
	const found = lines.filter((l) => l.toLowerCase().startsWith(
	    name.toLowerCase() + ":"));
	return found.map((l) => l.slice(name.length + 1).trim());
}

const DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function readFile(file, records) {
	const base = path.basename(file);
	let n = 0;
	const parser = new WARCParser(fs.createReadStream(file),
	    { parseHttp: false });
	for await (const rec of parser) {
		const h = rec.warcHeaders.headers;
		const version = rec.warcHeaders.statusline;
		const where = `${base}#${n}`;
		const block = await rec.readFully(false);
		const type = h.get("WARC-Type");
		const r = { file: base, type, id: h.get("WARC-Record-ID"),
		    uri: h.get("WARC-Target-URI"), date: h.get("WARC-Date"),
		    concurrent: h.get("WARC-Concurrent-To"),
		    payloadDigest: h.get("WARC-Payload-Digest"),
		    profile: h.get("WARC-Profile"),
		    refUri: h.get("WARC-Refers-To-Target-URI"),
		    refDate: h.get("WARC-Refers-To-Date"),
		    refersTo: h.get("WARC-Refers-To"), status: 0 };
		if (n === 0 && type !== "warcinfo")
			fail(where, `first record is ${type}, not warcinfo`);
		if (version !== "WARC/1.1")
			fail(where, `version ${version}`);
		if (!r.id || !DATE.test(r.date || ""))
			fail(where, `record id ${r.id} / date ${r.date}`);
		if (Number(h.get("Content-Length")) !== block.length)
			fail(where, `Content-Length ${h.get("Content-Length")}` +
			    ` but ${block.length} bytes`);
		if (sha1(block) !== h.get("WARC-Block-Digest"))
			fail(where, `block digest ${h.get("WARC-Block-Digest")}` +
			    ` is not ${sha1(block)}`);
		if (type === "request" || type === "response" ||
		    type === "revisit") {
			const http = splitHttp(block);
			if (!r.uri || !http) {
				fail(where, "no target URI or HTTP head");
			} else {
				r.status = Number(http.head.split(" ")[1]);
				if (type !== "revisit" && r.payloadDigest &&
				    sha1(http.payload) !== r.payloadDigest)
					fail(where, `payload digest ${r.payloadDigest}` +
					    ` is not ${sha1(http.payload)}`);
				if (type === "response") {
					const cl = httpHeader(http.head,
					    "Content-Length");
					if (cl.length !== 1 || Number(cl[0]) !==
					    http.payload.length)
						fail(where, `HTTP Content-Length ` +
						    `${cl} for ${http.payload.length}` +
						    ` bytes`);
					if (httpHeader(http.head,
					    "Content-Encoding").length ||
					    httpHeader(http.head,
					    "Transfer-Encoding").length)
						fail(where, "coding headers left");
					if (!r.payloadDigest)
						fail(where, "no payload digest");
				}
				if (type === "revisit" && !r.profile)
					fail(where, "revisit without a profile");
			}
		}
		records.push(r);
		n++;
	}
	if (n === 0)
		fail(base, "no records");
	// Again, with HTTP parsed by warcio itself.
	let m = 0;
	const p2 = new WARCParser(fs.createReadStream(file));
	for await (const rec of p2) {
		const t = rec.warcHeaders.headers.get("WARC-Type");
		if ((t === "response" || t === "revisit") &&
		    (!rec.httpHeaders || !rec.httpHeaders.statusCode))
			fail(`${base}#${m}`, "warcio found no HTTP status");
		await rec.readFully(true);
		m++;
	}
	if (m !== n)
		fail(base, `${n} records raw, ${m} with HTTP parsed`);
}

async function main() {
	const args = process.argv.slice(2);
	let docsFile = null;
	const files = [];
	for (let i = 0; i < args.length; i++) {
		if (args[i] === "--docs")
			docsFile = args[++i];
		else if (fs.statSync(args[i]).isDirectory()) {
			for (const f of fs.readdirSync(args[i]).sort())
				if (f.endsWith(".warc.gz"))
					files.push(path.join(args[i], f));
		} else
			files.push(args[i]);
	}
	const records = [];
	for (const f of files) {
		try {
			await readFile(f, records);
		} catch (e) {
			fail(path.basename(f), `unreadable: ${e.message || e}`);
		}
	}
	const ids = new Set(records.map((r) => r.id));
	const byUriDate = new Map();
	for (const r of records)
		if (r.type === "response")
			byUriDate.set(`${r.uri} ${r.date}`, r);
	const types = {};
	for (const r of records) {
		types[r.type] = (types[r.type] || 0) + 1;
		if (r.concurrent && !ids.has(r.concurrent))
			fail(r.file, `${r.id} concurrent to missing ` +
			    `${r.concurrent}`);
		// sluicectl export --format warc: the clean text's record
		// names the capture it was made from.
		if (r.refersTo && !ids.has(r.refersTo))
			fail(r.file, `${r.id} refers to missing ${r.refersTo}`);
		if (r.type === "conversion" && !r.refersTo)
			fail(r.file, `conversion ${r.id} refers to nothing`);
		if (r.type === "revisit" && r.profile &&
		    r.profile.endsWith("identical-payload-digest")) {
			const o = byUriDate.get(`${r.refUri} ${r.refDate}`);
			if (!o || o.payloadDigest !== r.payloadDigest)
				fail(r.file, `revisit ${r.id} refers to no ` +
				    `response ${r.refUri} ${r.refDate}`);
		}
	}
	let docs = 0;
	if (docsFile) {
		const captures = new Map();
		for (const r of records) {
			const whole = (r.type === "response" && r.status >= 200 &&
			    r.status < 300) || (r.type === "revisit" &&
			    r.profile && r.profile.endsWith("identical-payload-digest"));
			if (whole)
				captures.set(r.uri, (captures.get(r.uri) || 0) + 1);
		}
		for (const line of fs.readFileSync(docsFile, "utf8").split("\n")) {
			if (!line.trim())
				continue;
			const d = JSON.parse(line);
			const u = d.final_url || d.url;
			docs++;
			const k = captures.get(u) || 0;
			if (k !== 1)
				fail("docs", `document ${d.id} (${u}) has ${k} ` +
				    `captures`);
		}
	}
	if (files.length === 0)
		fail("arguments", "no WARC files");
	if (problems.length) {
		for (const p of problems.slice(0, 50))
			console.log(`warc-check: ${p}`);
		console.log(`warc-check: ${problems.length} problems`);
		process.exit(1);
	}
	console.log(JSON.stringify({ files: files.length,
	    records: records.length, types, docs }));
}

main().catch((e) => {
	console.log(`warc-check: ${e.stack || e}`);
	process.exit(1);
});
