import { readFileSync } from 'node:fs';

/** Resident memory of one process split by kind, in KiB, from /proc/<pid>/smaps. */
export interface SmapsBreakdown {
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
  /** Resident KiB per group: '[heap]' (brk malloc), '[anon]' (anonymous mmaps: V8 heap, malloc arenas, large buffers), '[stack]', the node binary, shared libraries, other files. */
  groups: Record<string, number>;
  /** Anonymous mappings by size class: count and resident KiB (malloc arenas reserve 64 MiB each; V8 pages are 256 KiB). */
  anonBySize: Record<string, { count: number; rssKiB: number }>;
}

function sizeClass(sizeKiB: number): string {
  if (sizeKiB <= 256) return '≤256K';
  if (sizeKiB <= 4096) return '≤4M';
  if (sizeKiB <= 65536) return '≤64M';
  return '>64M';
}

function groupOf(name: string): string {
  if (name === '') return '[anon]';
  if (name.startsWith('[')) return name.startsWith('[anon') ? '[anon]' : name; // [heap], [stack], [vdso], [anon:...]
  const base = name.split('/').pop() ?? name;
  if (base === 'node' || /\/bin\/node$/.test(name)) return 'node binary';
  if (name.endsWith('.node')) return `addon ${base}`;
  if (/\.so(\.|$)/.test(base)) return 'shared libraries';
  return 'other files';
}

/** Parses the text of /proc/<pid>/smaps. */
export function parseSmaps(text: string): SmapsBreakdown {
  const out: SmapsBreakdown = { rssKiB: 0, anonKiB: 0, fileKiB: 0, groups: {}, anonBySize: {} };
  let group = '';
  let anonMapping = false;
  let sizeKiB = 0;
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+(\d+)\s*(.*)$/.exec(line);
    if (header) {
      const name = header[2]!.trim();
      group = groupOf(name);
      anonMapping = group === '[anon]';
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (!field) continue;
    const kib = Number(field[2]);
    if (field[1] === 'Size') sizeKiB = kib;
    else if (field[1] === 'Rss') {
      out.rssKiB += kib;
      out.groups[group] = (out.groups[group] ?? 0) + kib;
      if (anonMapping) {
        const c = (out.anonBySize[sizeClass(sizeKiB)] ??= { count: 0, rssKiB: 0 });
        c.count += 1;
        c.rssKiB += kib;
      }
    } else if (field[1] === 'Anonymous') {
      out.anonKiB += kib;
    }
  }
  out.fileKiB = out.rssKiB - out.anonKiB;
  return out;
}

export function smapsOf(pid: number): SmapsBreakdown {
  return parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
}
