/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and sums sample time per function (self time) and per
 * source area (node internals, a package in node_modules, a kuorum file), for the bench's
 * profiling report. Pure over the parsed profile.
 */
export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Hotspot {
  name: string;
  ms: number;
  share: number;
}

/** Where a frame's code lives: "kuorum node/src/…", "pkg fastify", "node:internal", "(gc)"… */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `pkg ${m[1]}`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const d = /\/dist\/(.*)\.js$/.exec(url);
  if (d) return `kuorum ${d[1]}`;
  return url;
}

function frameName(n: CpuProfileNode): string {
  const f = n.callFrame;
  const where = f.url ? `${areaOf(f.url, f.functionName)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

function top(totals: Map<string, number>, totalMs: number, n: number): Hotspot[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms, share: totalMs ? ms / totalMs : 0 }));
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  byFunction: Hotspot[];
  byArea: Hotspot[];
  /** Inclusive time of kuorum's own functions (self + callees), the entry points worth optimising. */
  kuorumInclusive: Hotspot[];
}

export function summarizeProfile(p: CpuProfile, n = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const selfMs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  let totalMs = 0;
  let idleMs = 0;
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id)!;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const name = frameName(node);
    fn.set(name, (fn.get(name) ?? 0) + ms);
    const a = areaOf(node.callFrame.url, node.callFrame.functionName);
    area.set(a, (area.get(a) ?? 0) + ms);
    // Charge this sample once to every distinct kuorum function on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!;
      if (!areaOf(f.callFrame.url, f.callFrame.functionName).startsWith('kuorum ')) continue;
      const k = frameName(f);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + ms);
    }
  }
  const busy = totalMs - idleMs;
  return { totalMs, idleMs, byFunction: top(fn, busy, n), byArea: top(area, busy, n), kuorumInclusive: top(incl, busy, n) };
}

export function renderProfile(title: string, s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)}%`;
  const rows = (hs: Hotspot[]): string[] => hs.map((h) => `  ${pct(h.share)} ${h.ms.toFixed(0).padStart(7)} ms  ${h.name}`);
  return [
    `${title}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${((s.idleMs / s.totalMs) * 100).toFixed(0)}% idle; shares below are of busy time`,
    'self time by area:',
    ...rows(s.byArea.slice(0, 15)),
    'self time by function:',
    ...rows(s.byFunction),
    'inclusive time of kuorum functions:',
    ...rows(s.kuorumInclusive),
  ].join('\n');
}
