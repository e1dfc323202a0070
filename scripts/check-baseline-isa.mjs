#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Static audit for "one binary for every x86-64 CPU": disassembles the addon and fails when a
// function outside the per-ISA kernel code contains an instruction the baseline x86-64 CPU
// (SSE2) may not have.
//   node scripts/check-baseline-isa.mjs [ADDON.node] [--verbose]
// Default addon: build/Release/lfm2.node. Needs GNU objdump and an unstripped addon (the
// function names decide which code is per-ISA). Exit status: 0 clean, 1 offenders found,
// 2 cannot check (no objdump, no file, stripped, not x86-64).
//
// Which code may use what, by the demangled function name:
//   lfm::cpu::avx512vnni::  AVX-512 F/BW/VL/DQ + VNNI + VBMI (and everything below)
//   lfm::cpu::avx512::      AVX-512 F/BW/VL/DQ, AVX2, FMA, F16C; no VNNI/VBMI instructions
//   lfm::cpu::avx2::        AVX2, FMA, F16C; no AVX-512 (no zmm, no opmask, no EVEX-only forms)
//   everything else         baseline x86-64: no VEX/EVEX instruction (v-prefixed mnemonics,
//                           ymm/zmm/k registers), no SSE3/SSSE3/SSE4/BMI/POPCNT/LZCNT/MOVBE
// A name belongs to a level when it contains the namespace anywhere (its own namespace, an
// anonymous namespace inside it, or a template instantiated on one of its types, which only
// that level's code can name). The classic way for AVX code to leak into shared code is an
// inline function or template from a shared header compiled both in an ISA translation unit
// and in a baseline one: both copies are COMDAT under the same name and the linker keeps one,
// possibly the AVX one. Such a function has a shared name and is reported here.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const file = args.find((a) => !a.startsWith("--")) ?? join(root, "build", "Release", "lfm2.node");

function fail(code, msg) {
  console.error(`check-baseline-isa: ${msg}`);
  process.exit(code);
}

if (!existsSync(file)) fail(2, `no addon at ${file} (build it first: npm run build:native)`);

/** Whether an ELF64 little-endian file has a non-empty .symtab (SHT_SYMTAB); null if not ELF64. */
function hasSymtab(path) {
  const fd = openSync(path, "r");
  try {
    const ehdr = Buffer.alloc(64);
    readSync(fd, ehdr, 0, 64, 0);
    if (ehdr.readUInt32BE(0) !== 0x7f454c46 || ehdr[4] !== 2 || ehdr[5] !== 1) return null;
    const shoff = Number(ehdr.readBigUInt64LE(0x28));
    const shentsize = ehdr.readUInt16LE(0x3a);
    const shnum = ehdr.readUInt16LE(0x3c);
    const shdrs = Buffer.alloc(shentsize * shnum);
    readSync(fd, shdrs, 0, shdrs.length, shoff);
    for (let i = 0; i < shnum; i++) {
      const type = shdrs.readUInt32LE(i * shentsize + 4);
      const size = Number(shdrs.readBigUInt64LE(i * shentsize + 0x20));
      if (type === 2 && size > 0) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

const symtab = hasSymtab(file);
if (symtab === null) fail(2, `${file} is not a 64-bit little-endian ELF file: nothing to check`);
if (!symtab) {
  fail(
    2,
    `${file} is stripped (no .symtab): without function names per-ISA code cannot be told from shared code. ` +
      "Audit the unstripped build of the same sources (node-gyp build; prebuildify --strip strips build/Release/lfm2.node " +
      "in place: relink with rm build/Release/lfm2.node build/Release/obj.target/lfm2.node && make -C build).",
  );
}

const dump = spawnSync("objdump", ["-d", "-C", "-w", "--no-show-raw-insn", file], {
  encoding: "utf8",
  maxBuffer: 1 << 30,
});
if (dump.error) fail(2, `cannot run objdump (${dump.error.message}); install binutils`);
if (dump.status !== 0) fail(2, `objdump failed: ${dump.stderr.trim()}`);
if (!/file format elf64-x86-64/.test(dump.stdout)) fail(2, `${file} is not an x86-64 ELF file: nothing to check`);

// Mnemonics beyond SSE2 that are not v-prefixed (SSE3, SSSE3, SSE4.1/4.2, POPCNT, LZCNT, BMI1/2,
// MOVBE, F16C has only v-forms). Matched on the whole mnemonic.
const BEYOND_SSE2 = new Set(
  [
    // SSE3
    "addsubps addsubpd haddps haddpd hsubps hsubpd lddqu movddup movshdup movsldup monitor mwait fisttp fisttps fisttpl fisttpll",
    // SSSE3
    "pabsb pabsw pabsd palignr phaddw phaddd phaddsw phsubw phsubd phsubsw pmaddubsw pmulhrsw pshufb psignb psignw psignd",
    // SSE4.1
    "blendpd blendps blendvpd blendvps dppd dpps extractps insertps movntdqa mpsadbw packusdw pblendvb pblendw pcmpeqq " +
      "pextrb pextrd pextrq phminposuw pinsrb pinsrd pinsrq pmaxsb pmaxsd pmaxud pmaxuw pminsb pminsd pminud pminuw " +
      "pmovsxbw pmovsxbd pmovsxbq pmovsxwd pmovsxwq pmovsxdq pmovzxbw pmovzxbd pmovzxbq pmovzxwd pmovzxwq pmovzxdq " +
      "pmuldq pmulld ptest roundps roundpd roundss roundsd",
    // SSE4.2, POPCNT, LZCNT, BMI1, BMI2, MOVBE, ADX
    "pcmpestri pcmpestrm pcmpistri pcmpistrm pcmpgtq crc32b crc32w crc32l crc32q popcnt lzcnt tzcnt " +
      "andn bextr blsi blsmsk blsr bzhi mulx pdep pext rorx sarx shlx shrx movbe adcx adox",
  ]
    .join(" ")
    .split(/\s+/),
);
// Size suffixes objdump may append (popcntl, lzcntq, ...).
function baseMnemonic(m) {
  if (BEYOND_SSE2.has(m)) return m;
  const stripped = m.replace(/[bwlq]$/, "");
  return BEYOND_SSE2.has(stripped) ? stripped : null;
}

// AVX-512-only forms: zmm registers, opmask registers, xmm/ymm16-31, masking/broadcast/rounding
// decorations, and mnemonics that only exist with EVEX (EVEX compares such as vpcmpd write an
// opmask register, so the operand test catches them; VEX vpcmpgtd on ymm is AVX2).
const AVX512_OPERAND = /%zmm\d|%k[0-7]\b|%[xy]mm(1[6-9]|2\d|3[01])\b|\{%k|\{z\}|\{1to\d+\}|\{r[nduz]-sae\}|\{sae\}/;
const AVX512_MNEMONIC =
  /^(vpternlog|vperm[it]2|vpcompress|vpexpand|vcompress|vexpand|vpmov[a-z]*2m|vpmovm2|vpmov(s|us)?(qb|qw|qd|db|dw|wb)$|vpro[lr]|vpsraq|vpsravq|vrcp14|vrsqrt14|vrcp28|vrsqrt28|vscalef|vgetexp|vgetmant|vfixupimm|vrange|vreduce|vrndscale|vpconflict|vplzcnt|valign[dq]|vdbpsadbw|vpermw|vpermb|vpmultishiftqb|v(insert|extract)[if](32x|64x)|vbroadcast[if](32x|64x)|vshuf[if](32x|64x)|vcvtt?p[sd]2u|vcvtt?s[sd]2usi|vcvtu|vcvtt?p[sd]2qq|vcvtqq2|vmovdq[au](8|16|32|64)|vpabsq|vp(max|min)[su]q|vpmullq|vblendm|vpblendm|vptestn?m|vpdpbusds?|vpdpwssds?|vfpclass|vpopcnt|vpshufbitqmb|vpshl?dv?|vpshrdv?|vgf2p8|vcvtne2ps2bf16|vcvtneps2bf16|vdpbf16ps|vpmadd52)/;
const VNNI_VBMI_MNEMONIC = /^(vpdpbusds?|vpdpwssds?|vpermb|vperm[it]2b|vpmultishiftqb)$/;

const LEVELS = [
  { name: "avx512vnni", ns: "lfm::cpu::avx512vnni::" },
  { name: "avx512", ns: "lfm::cpu::avx512::" },
  { name: "avx2", ns: "lfm::cpu::avx2::" },
];

function levelOf(fn) {
  for (const l of LEVELS) if (fn.includes(l.ns)) return l.name;
  return "baseline";
}

/** Why an instruction is not allowed at a level, or null. */
function violation(level, mnemonic, operands) {
  if (level === "avx512vnni") return null;
  if (level === "avx512") return VNNI_VBMI_MNEMONIC.test(mnemonic) ? "AVX-512 VNNI/VBMI" : null;
  const isAvx512 = AVX512_OPERAND.test(operands) || AVX512_MNEMONIC.test(mnemonic);
  if (level === "avx2") return isAvx512 ? "AVX-512" : null;
  if (isAvx512) return "AVX-512";
  if (/%ymm\d/.test(operands)) return "AVX (ymm)";
  if (/^v[a-z]/.test(mnemonic) && mnemonic !== "verr" && mnemonic !== "verw") return "AVX (VEX)";
  const b = baseMnemonic(mnemonic);
  return b ? `beyond SSE2 (${b})` : null;
}

const offenders = new Map(); // function -> { level, count, first: [instr], kinds: Set }
const perLevel = { baseline: 0, avx2: 0, avx512: 0, avx512vnni: 0 };
let current = null;
let currentLevel = "baseline";
let functions = 0;
let namedLfm = 0;
for (const line of dump.stdout.split("\n")) {
  const head = /^[0-9a-f]+ <(.*)>:$/.exec(line);
  if (head) {
    current = head[1];
    currentLevel = levelOf(current);
    perLevel[currentLevel]++;
    functions++;
    if (current.includes("lfm::")) namedLfm++;
    continue;
  }
  if (current === null) continue;
  // "  addr:\tmnemonic operands" (with -w and no raw bytes); prefixes like "rep", "lock",
  // "notrack", "bnd", "data16" come before the mnemonic.
  const ins = /^\s*[0-9a-f]+:\t(.*)$/.exec(line);
  if (!ins) continue;
  const text = ins[1].replace(/\s+#.*$/, "").replace(/<[^>]*>/g, "").trim();
  const tokens = text.split(/\s+/);
  while (tokens.length > 1 && /^(rep[nez]*|lock|notrack|bnd|data16|addr32|cs|ds|es|ss|fs|gs|\{[a-z0-9]+\})$/.test(tokens[0])) tokens.shift();
  const mnemonic = tokens[0] ?? "";
  const operands = tokens.slice(1).join(" ");
  const why = violation(currentLevel, mnemonic, operands);
  if (!why) continue;
  let o = offenders.get(current);
  if (!o) offenders.set(current, (o = { level: currentLevel, count: 0, first: [], kinds: new Set() }));
  o.count++;
  o.kinds.add(why);
  if (o.first.length < 3) o.first.push(text);
}

if (functions === 0) fail(2, `objdump found no functions in ${file}`);
if (namedLfm === 0) fail(2, `${file} has no lfm:: symbols (stripped?): cannot tell per-ISA code from shared code`);

const shown = relative(process.cwd(), file) || file;
const summary =
  `${functions} functions (${perLevel.baseline} baseline, ${perLevel.avx2} avx2, ` +
  `${perLevel.avx512} avx512, ${perLevel.avx512vnni} avx512vnni)`;
if (offenders.size === 0) {
  console.log(`check-baseline-isa: ${shown}: OK, ${summary}; no instruction above its function's ISA level`);
  process.exit(0);
}
console.error(`check-baseline-isa: ${shown}: ${offenders.size} function(s) use instructions above their ISA level (${summary}):`);
for (const [fn, o] of offenders) {
  console.error(`  [${o.level}] ${fn}`);
  console.error(`      ${o.count} instruction(s): ${[...o.kinds].join(", ")}; e.g. ${o.first.join(" | ")}`);
}
console.error(
  "Shared (baseline) code must not contain AVX: an inline function or template from a header compiled in a per-ISA\n" +
    "translation unit must be static, in an anonymous namespace, or in that ISA's namespace (see native/cpu/avx2/simd_avx2.h).",
);
if (verbose) console.error(`objdump: objdump -d -C -w --no-show-raw-insn ${shown}`);
process.exit(1);
